package domain

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTextRules(t *testing.T) {
	t.Parallel()
	name := func(s string) error { return ValidateName("user_name", &s) }
	tests := []struct {
		name  string
		check func() error
		valid bool
	}{
		{name: "id", check: func() error { return ValidateID("user_id", "user-42@example.com") }, valid: true},
		{name: "id unicode", check: func() error { return ValidateID("user_id", "zoë_日本") }, valid: true},
		{name: "id at limit", check: func() error { return ValidateID("user_id", strings.Repeat("a", 128)) }, valid: true},
		{name: "id over limit", check: func() error { return ValidateID("user_id", strings.Repeat("a", 129)) }},
		{name: "id empty", check: func() error { return ValidateID("user_id", "") }},
		{name: "id surrounding space", check: func() error { return ValidateID("user_id", " a") }},
		{name: "id NUL", check: func() error { return ValidateID("user_id", "a\x00b") }},
		{name: "id ESC", check: func() error { return ValidateID("user_id", "a\x1bb") }},
		{name: "id TAB", check: func() error { return ValidateID("user_id", "a\tb") }},
		{name: "id LF", check: func() error { return ValidateID("user_id", "a\nb") }},
		{name: "id CR", check: func() error { return ValidateID("user_id", "a\rb") }},
		{name: "id DEL", check: func() error { return ValidateID("user_id", "a\x7fb") }},
		{name: "id C1", check: func() error { return ValidateID("user_id", "a\u0085b") }},
		{name: "id invalid UTF-8", check: func() error { return ValidateID("user_id", "a\xffb") }},
		{name: "id ALM", check: func() error { return ValidateID("user_id", "a\u061cb") }},
		{name: "id LRM", check: func() error { return ValidateID("user_id", "a\u200eb") }},
		{name: "id RLM", check: func() error { return ValidateID("user_id", "a\u200fb") }},
		{name: "id LRE", check: func() error { return ValidateID("user_id", "a\u202ab") }},
		{name: "id RLO", check: func() error { return ValidateID("user_id", "a\u202eb") }},
		{name: "id LRI", check: func() error { return ValidateID("user_id", "a\u2066b") }},
		{name: "id PDI", check: func() error { return ValidateID("user_id", "a\u2069b") }},
		{name: "id zero-width joiner is text", check: func() error { return ValidateID("user_id", "a\u200db") }, valid: true},

		{name: "code", check: func() error { return ValidateCode("referral_code", "ABCDEFGHIJ") }, valid: true},
		{name: "code empty", check: func() error { return ValidateCode("referral_code", "") }},
		{name: "code too long", check: func() error { return ValidateCode("referral_code", strings.Repeat("A", 65)) }},
		{name: "code NUL", check: func() error { return ValidateCode("referral_code", "AB\x00CD") }},
		{name: "code invalid UTF-8", check: func() error { return ValidateCode("referral_code", "AB\xffCD") }},

		{name: "name nil", check: func() error { return ValidateName("user_name", nil) }, valid: true},
		{name: "name empty", check: func() error { return name("") }, valid: true},
		{name: "name spaces", check: func() error { return name("  Ava Smith ") }, valid: true},
		{name: "name formula is text", check: func() error { return name(`=HYPERLINK("x")`) }, valid: true},
		{name: "name at limit", check: func() error { return name(strings.Repeat("é", 64)) }, valid: true},
		{name: "name over limit", check: func() error { return name(strings.Repeat("é", 64) + "a") }},
		{name: "name NUL", check: func() error { return name("x\x00y") }},
		{name: "name LF", check: func() error { return name("x\ny") }},
		{name: "name bidi", check: func() error { return name("x\u202ey") }},

		{name: "reason multi-line", check: func() error { return ValidateReason("reason", "fraud:\n\tsame device") }, valid: true},
		{name: "reason at limit", check: func() error { return ValidateReason("reason", strings.Repeat("a", 500)) }, valid: true},
		{name: "reason over limit", check: func() error { return ValidateReason("reason", strings.Repeat("a", 501)) }},
		{name: "reason CR", check: func() error { return ValidateReason("reason", "a\rb") }},
		{name: "reason NUL", check: func() error { return ValidateReason("reason", "a\x00b") }},
		{name: "reason bidi", check: func() error { return ValidateReason("reason", "a\u2067b") }},

		{name: "text limit", check: func() error { return ValidateText("reward_value", "$5", 2) }, valid: true},
		{name: "text over limit", check: func() error { return ValidateText("reward_value", "$50", 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check()
			if tt.valid && err != nil {
				t.Errorf("got %v, want valid", err)
			}
			if !tt.valid && ErrorCode(err) != EInvalid {
				t.Errorf("got %v, want %s", err, EInvalid)
			}
		})
	}
}

func TestValidateMetadata(t *testing.T) {
	t.Parallel()
	nest := func(n int) string { return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1) }
	tests := []struct {
		name  string
		raw   string
		valid bool
	}{
		{name: "absent", raw: "", valid: true},
		{name: "empty object", raw: `{}`, valid: true},
		{name: "mixed", raw: `{"plan":"pro","n":1.5,"tags":["a",{"b":null}],"ok":true,"note":"l1\nl2"}`, valid: true},
		{name: "depth 8", raw: nest(8), valid: true},
		{name: "arrays count as depth", raw: `{"a":[[[[[[[1]]]]]]]}`, valid: true},
		{name: "at size limit", raw: `{"k":"` + strings.Repeat("a", MaxMetadataBytes-8) + `"}`, valid: true},
		{name: "depth 9", raw: nest(9)},
		{name: "arrays too deep", raw: `{"a":[[[[[[[[1]]]]]]]]}`},
		{name: "over size limit", raw: `{"k":"` + strings.Repeat("a", MaxMetadataBytes-7) + `"}`},
		{name: "array", raw: `[1]`},
		{name: "string", raw: `"x"`},
		{name: "NUL in value", raw: `{"k":"a\u0000b"}`},
		{name: "NUL in nested value", raw: `{"k":["a\u0000b"]}`},
		{name: "NUL in key", raw: `{"a\u0000":1}`},
		{name: "control in key", raw: `{"a\u001b":1}`},
		{name: "bidi in key", raw: `{"a\u202e":1}`},
		{name: "long key", raw: `{"` + strings.Repeat("k", 129) + `":1}`},
		{name: "invalid UTF-8", raw: "{\"k\":\"\xff\"}"},
		{name: "not JSON", raw: `{"k":}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateMetadata(json.RawMessage(tt.raw))
			if tt.valid && err != nil {
				t.Errorf("got %v, want valid", err)
			}
			if !tt.valid && ErrorCode(err) != EInvalid {
				t.Errorf("got %v, want %s", err, EInvalid)
			}
		})
	}
}
