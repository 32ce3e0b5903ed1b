package domain

import (
	"slices"
	"strings"
	"time"
)

// Scopes an API key can carry.
const (
	ScopeReferralsWrite = "referrals:write"
	ScopeReferralsRead  = "referrals:read"
	ScopeRewardsClaim   = "rewards:claim"
	ScopeSettingsWrite  = "settings:write"
	ScopeWebhooksManage = "webhooks:manage"
	ScopeEventsRead     = "events:read"
	ScopeAuditRead      = "audit:read"
	// ScopeReviewsManage voids referrals, reverses rewards and resolves reviews.
	ScopeReviewsManage = "reviews:manage"
)

// Roles name the sets of scopes the CLI issues keys with.
const (
	RoleServer  = "server"
	RoleAnalyst = "analyst"
	RoleAuditor = "auditor"
	// RoleReviewer resolves fraud reviews and reverses rewards.
	RoleReviewer = "reviewer"
)

// RoleScopes returns the scopes of a role, or false for an unknown role.
func RoleScopes(role string) ([]string, bool) {
	switch role {
	case RoleServer:
		return []string{ScopeReferralsWrite, ScopeReferralsRead, ScopeRewardsClaim, ScopeSettingsWrite,
			ScopeWebhooksManage, ScopeEventsRead, ScopeAuditRead, ScopeReviewsManage}, true
	case RoleAnalyst:
		return []string{ScopeReferralsRead, ScopeEventsRead}, true
	case RoleAuditor:
		return []string{ScopeReferralsRead, ScopeEventsRead, ScopeAuditRead}, true
	case RoleReviewer:
		return []string{ScopeReferralsRead, ScopeReviewsManage, ScopeAuditRead}, true
	}
	return nil, false
}

// Appspace is a tenant: its referrals, settings, keys and webhooks are
// invisible to every other appspace.
type Appspace struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// ValidateAppspaceName reports whether name can name an appspace.
func ValidateAppspaceName(name string) error {
	if err := ValidateID("appspace name", name); err != nil {
		return err
	}
	if strings.ContainsAny(name, ":/") {
		return Errorf(EInvalid, "appspace name must not contain ':' or '/'")
	}
	return nil
}

// APIKey is a stored key, without its secret.
type APIKey struct {
	ID         string
	AppspaceID string
	Name       string
	Role       string
	Scopes     []string
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// Has reports whether the key carries scope.
func (k APIKey) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }
