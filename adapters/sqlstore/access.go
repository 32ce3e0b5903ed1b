// Package sqlstore keeps appspaces and API keys in SQL, through sqlx, in
// both dialects the ledger runs on (SQLite and PostgreSQL). The tables come
// from the migrations of adapters/sqlite and adapters/postgres.
package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// keyPrefix starts every API key, so a leaked key is easy to recognise.
const keyPrefix = "rlk_"

// Access stores appspaces and API keys.
type Access struct {
	write *sqlx.DB
	read  *sqlx.DB
	now   func() time.Time
	cache *keyCache // nil: every Authenticate looks the key up
	// revocations, if set, is the file RevokeKey signals other processes
	// through on SQLite (see revocationFile).
	revocations string
	// lookup is the key lookup, prepared once on the read pool (every
	// request runs it where keys are not cached; on SQLite parsing it
	// was most of its cost).
	lookup struct {
		mu   sync.Mutex
		stmt atomic.Pointer[sqlx.Stmt]
	}
}

// NewAccess returns an Access that writes through write and reads through
// read (the same pool on PostgreSQL; SQLite's writer and reader pools).
func NewAccess(write, read *sqlx.DB) *Access {
	return &Access{write: write, read: read, now: time.Now}
}

type appspaceRow struct {
	ID        string `db:"id"`
	Name      string `db:"name"`
	CreatedAt int64  `db:"created_at"`
}

func (r appspaceRow) appspace() domain.Appspace {
	return domain.Appspace{ID: r.ID, Name: r.Name, CreatedAt: time.UnixMilli(r.CreatedAt).UTC()}
}

// CreateAppspace creates an appspace. Errors: EInvalid, EConflict (name taken).
func (a *Access) CreateAppspace(ctx context.Context, name string) (domain.Appspace, error) {
	if err := domain.ValidateAppspaceName(name); err != nil {
		return domain.Appspace{}, err
	}
	row := appspaceRow{ID: domain.NewPrefixedID("as"), Name: name, CreatedAt: a.now().UnixMilli()}
	// The name check and insert share one statement, so two creators race
	// on the unique index, not on a read.
	res, err := a.write.ExecContext(ctx, a.write.Rebind(
		`INSERT INTO appspaces (id, name, created_at) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM appspaces WHERE name = ?)`),
		row.ID, row.Name, row.CreatedAt, row.Name)
	if err != nil {
		return domain.Appspace{}, fmt.Errorf("insert appspace: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return domain.Appspace{}, domain.Errorf(domain.EConflict, "an appspace named %q already exists", name)
	}
	return row.appspace(), nil
}

// ListAppspaces returns every appspace, oldest first.
func (a *Access) ListAppspaces(ctx context.Context) ([]domain.Appspace, error) {
	var rows []appspaceRow
	if err := a.read.SelectContext(ctx, &rows, `SELECT id, name, created_at FROM appspaces ORDER BY created_at, id`); err != nil {
		return nil, fmt.Errorf("list appspaces: %w", err)
	}
	out := make([]domain.Appspace, len(rows))
	for i, r := range rows {
		out[i] = r.appspace()
	}
	return out, nil
}

// FindAppspace returns the appspace with the given ID or name. Errors: ENotFound.
func (a *Access) FindAppspace(ctx context.Context, idOrName string) (domain.Appspace, error) {
	var r appspaceRow
	err := a.read.GetContext(ctx, &r, a.read.Rebind(
		`SELECT id, name, created_at FROM appspaces WHERE id = ? OR name = ? ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`),
		idOrName, idOrName, idOrName)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Appspace{}, domain.Errorf(domain.ENotFound, "appspace %q not found", idOrName)
	}
	if err != nil {
		return domain.Appspace{}, fmt.Errorf("find appspace: %w", err)
	}
	return r.appspace(), nil
}

type keyRow struct {
	ID         string        `db:"id"`
	AppspaceID string        `db:"appspace_id"`
	Name       string        `db:"name"`
	Role       string        `db:"role"`
	Scopes     string        `db:"scopes"`
	SecretHash []byte        `db:"secret_hash"`
	CreatedAt  int64         `db:"created_at"`
	RevokedAt  sql.NullInt64 `db:"revoked_at"`
}

func (r keyRow) key() domain.APIKey {
	k := domain.APIKey{ID: r.ID, AppspaceID: r.AppspaceID, Name: r.Name, Role: r.Role,
		Scopes: strings.Fields(r.Scopes), CreatedAt: time.UnixMilli(r.CreatedAt).UTC()}
	if r.RevokedAt.Valid {
		t := time.UnixMilli(r.RevokedAt.Int64).UTC()
		k.RevokedAt = &t
	}
	return k
}

const keyColumns = `id, appspace_id, name, role, scopes, secret_hash, created_at, revoked_at`

// CreateKey creates an API key with a role's scopes and returns it with the
// full key string, which is never stored and cannot be shown again.
// Errors: EInvalid (unknown role), ENotFound (appspace).
func (a *Access) CreateKey(ctx context.Context, appspace, role, name string) (domain.APIKey, string, error) {
	scopes, ok := domain.RoleScopes(role)
	if !ok {
		return domain.APIKey{}, "", domain.Errorf(domain.EInvalid, "unknown role %q: use server, analyst or auditor", role)
	}
	as, err := a.FindAppspace(ctx, appspace)
	if err != nil {
		return domain.APIKey{}, "", err
	}
	var secret [32]byte
	rand.Read(secret[:])
	secretText := base64.RawURLEncoding.EncodeToString(secret[:])
	id := domain.NewPrefixedID("key")
	hash := sha256.Sum256([]byte(secretText))
	row := keyRow{ID: id, AppspaceID: as.ID, Name: name, Role: role, Scopes: strings.Join(scopes, " "),
		SecretHash: hash[:], CreatedAt: a.now().UnixMilli()}
	_, err = a.write.NamedExecContext(ctx, `INSERT INTO api_keys (id, appspace_id, name, role, scopes, secret_hash, created_at)
		VALUES (:id, :appspace_id, :name, :role, :scopes, :secret_hash, :created_at)`, row)
	if err != nil {
		return domain.APIKey{}, "", fmt.Errorf("insert api key: %w", err)
	}
	return row.key(), keyPrefix + strings.TrimPrefix(id, "key_") + "_" + secretText, nil
}

// ListKeys returns the keys of an appspace, or of every appspace when
// appspaceID is empty, oldest first.
func (a *Access) ListKeys(ctx context.Context, appspaceID string) ([]domain.APIKey, error) {
	var rows []keyRow
	err := a.read.SelectContext(ctx, &rows, a.read.Rebind(
		`SELECT `+keyColumns+` FROM api_keys WHERE ? = '' OR appspace_id = ? ORDER BY created_at, id`), appspaceID, appspaceID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out := make([]domain.APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.key()
	}
	return out, nil
}

// RevokeKey revokes a key; revoking a revoked key changes nothing. On
// PostgreSQL the update announces the revocation (NOTIFY, at its commit)
// to the processes that WatchRevocations. Errors: ENotFound.
func (a *Access) RevokeKey(ctx context.Context, id string) error {
	q := `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`
	if a.write.DriverName() == "postgres" {
		q = `WITH revoked AS (` + q + ` RETURNING id) SELECT pg_notify(` + revocationChannel + `, id) FROM revoked`
	}
	if a.cache != nil {
		a.cache.forget(id)
	}
	res, err := a.write.ExecContext(ctx, a.write.Rebind(q), a.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return domain.Errorf(domain.ENotFound, "api key %q not found", id)
	}
	if a.cache != nil {
		a.cache.invalidate(id)
		a.cache.heard(ctx, id)
	}
	if a.revocations != "" {
		f := revocationFile{path: a.revocations}
		if err := f.announce(); err != nil {
			return fmt.Errorf("key %s is revoked, but a running serve may accept it for up to %s: %w", id, keyCacheTTL, err)
		}
	}
	return nil
}

// Authenticate returns the live key a presented key string belongs to.
// Errors: EUnauthorized.
func (a *Access) Authenticate(ctx context.Context, presented string) (domain.APIKey, error) {
	unauthorized := domain.Errorf(domain.EUnauthorized, "invalid or revoked API key")
	idPart, secret, ok := strings.Cut(strings.TrimPrefix(presented, keyPrefix), "_")
	if !ok || !strings.HasPrefix(presented, keyPrefix) || len(idPart) != 20 || secret == "" {
		return domain.APIKey{}, unauthorized
	}
	r, err := a.lookupKey(ctx, "key_"+idPart)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.APIKey{}, unauthorized
	}
	if err != nil {
		return domain.APIKey{}, fmt.Errorf("look up api key: %w", err)
	}
	hash := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(hash[:], r.SecretHash) != 1 || r.RevokedAt.Valid {
		return domain.APIKey{}, unauthorized
	}
	return r.key(), nil
}

// lookupStmt returns the key lookup, prepared on first use (again after
// a failed try).
func (a *Access) lookupStmt(ctx context.Context) (*sqlx.Stmt, error) {
	if st := a.lookup.stmt.Load(); st != nil {
		return st, nil
	}
	a.lookup.mu.Lock()
	defer a.lookup.mu.Unlock()
	if st := a.lookup.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := a.read.PreparexContext(ctx, a.read.Rebind(`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`))
	if err != nil {
		return nil, fmt.Errorf("prepare the key lookup: %w", err)
	}
	a.lookup.stmt.Store(st)
	return st, nil
}

// lookupKey reads a key's row, from the cache when it holds it.
func (a *Access) lookupKey(ctx context.Context, id string) (keyRow, error) {
	var gen uint64
	if a.cache != nil {
		r, ok, g := a.cache.get(id)
		if ok {
			return r, nil
		}
		gen = g
	}
	var r keyRow
	at := time.Now()
	stmt, err := a.lookupStmt(ctx)
	if err != nil {
		return keyRow{}, err
	}
	if err := stmt.GetContext(ctx, &r, id); err != nil {
		return keyRow{}, err
	}
	if a.cache != nil {
		a.cache.put(r, gen, at)
	}
	return r, nil
}
