package httpapi

import (
	"net/http"

	"github.com/referral-ledger/referral-ledger/domain"
)

// whoami tells a key what it is: the console shows only what its scopes
// allow. Any valid key may ask.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	key, _ := r.Context().Value(keyContext{}).(domain.APIKey)
	var name *string
	if s.appspaces != nil {
		as, err := s.appspaces.FindAppspace(r.Context(), o.AppspaceID)
		if err != nil {
			return err
		}
		name = &as.Name
	}
	scopes := key.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"appspace_id": o.AppspaceID, "appspace_name": name,
		"key_id": o.KeyID, "role": key.Role, "scopes": scopes})
	return nil
}
