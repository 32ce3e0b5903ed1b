package audit

import (
	"encoding/json"
	"testing"
)

// TestCanonicalizeRFC8785 checks the examples of RFC 8785: the sample of
// section 3.2.2 and the sorting example of section 3.2.3, plus numbers
// from its Appendix B.
func TestCanonicalizeRFC8785(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"section 3.2.2", `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`, `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		{"section 3.2.3 sorting", `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`, "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{"empty is null", ``, `null`},
		{"nested and integers", `{"b": [1, -0, 9007199254740992, {"z":1,"a":"x"}], "a": {}}`, `{"a":{},"b":[1,0,9007199254740992,{"a":"x","z":1}]}`},
		{"html is not escaped", `"<a>&\u2028"`, "\"<a>&\u2028\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonicalize:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestFormatNumberAppendixB checks IEEE 754 values from RFC 8785 Appendix B.
func TestFormatNumberAppendixB(t *testing.T) {
	for in, want := range map[string]string{
		"1e+21": "1e+21", "1e+20": "100000000000000000000", "9007199254740991": "9007199254740991",
		"0.000001": "0.000001", "1e-7": "1e-7", "-1.5": "-1.5", "295147905179352830000": "295147905179352830000",
		"1.7976931348623157e308": "1.7976931348623157e+308", "5e-324": "5e-324",
	} {
		got, err := formatNumber(json.Number(in))
		if err != nil || got != want {
			t.Errorf("formatNumber(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Canonicalize([]byte(`{"a":1,"a":2}`)); err == nil {
		t.Error("duplicate member names accepted")
	}
}
