package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/referral-ledger/referral-ledger/domain"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	st, _, err := s.svc.Settings(r.Context(), o.AppspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st.Shown())
	return nil
}

// putSettings changes the fields the body names and keeps the others; a
// field set to null takes its null value.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	var raw json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		return err
	}
	if len(raw) == 0 || raw[0] != '{' {
		return domain.Errorf(domain.EInvalid, "settings must be a JSON object")
	}
	st, err := s.svc.UpdateSettings(r.Context(), o, func(st *domain.Settings) error {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(st); err != nil {
			return domain.Errorf(domain.EInvalid, "invalid settings: %v", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st.Shown())
	return nil
}
