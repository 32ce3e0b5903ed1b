package audit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TestMetadataBoundIsCanonical holds domain.ValidateMetadata's bound to the
// leaf's canonical form: for each number, metadata whose canonical form
// (this package's RFC 8785 encoder) is exactly MaxMetadataBytes is
// accepted, and one byte more is refused, whatever the number's canonical
// form adds or takes away. It fails if the domain computes any number's
// canonical length other than Canonicalize writes it.
func TestMetadataBoundIsCanonical(t *testing.T) {
	nums := []string{"0", "-0", "0.0", "1", "-1", "1e20", "1E20", "1e21", "-1e21", "1e-6", "1e-7", "-1.5e-7",
		"0.000001", "0.0000001", "123456789012345678901234", "1.7976931348623157e308", "5e-324", "4.50",
		"2e-3", "333333333.33333329", "1E30", "0.000000000000000000000000001", "100", "1e2", "12.5e1",
		"9007199254740993", "1e400", "-1e400", "1e-400", "0.1", "1.25e+5", "123e-10"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		f := (r.Float64()*2 - 1) * math.Pow(10, float64(r.IntN(60)-30))
		switch r.IntN(3) {
		case 0:
			nums = append(nums, strconv.FormatFloat(f, 'e', r.IntN(17), 64))
		case 1:
			nums = append(nums, strconv.FormatFloat(f, 'g', -1, 64))
		default:
			nums = append(nums, strconv.Itoa(r.IntN(1<<40)-1<<39)+"e"+strconv.Itoa(r.IntN(50)-25))
		}
	}
	for _, num := range nums {
		meta := func(pad int) []byte {
			return fmt.Appendf(nil, `{"a":[%s],"p":"%s"}`, num, strings.Repeat("x", pad))
		}
		canon, err := Canonicalize(meta(0))
		if err != nil {
			continue // no finite double: the leaf keeps the text as sent
		}
		pad := domain.MaxMetadataBytes - len(canon)
		if len(meta(pad)) > domain.MaxMetadataBytes {
			continue // larger as sent than canonical: the plain bound decides
		}
		if err := domain.ValidateMetadata(meta(pad)); err != nil {
			t.Errorf("%s: canonical form of exactly %d bytes refused: %v", num, domain.MaxMetadataBytes, err)
		}
		if err := domain.ValidateMetadata(meta(pad + 1)); err == nil {
			t.Errorf("%s: canonical form of %d bytes accepted", num, domain.MaxMetadataBytes+1)
		}
	}
}

// TestMetadataCannotOutgrowABundle: the metadata that made a leaf too
// large for an entry bundle (16 KiB of 1e20, 21 digits each canonical) is
// refused, and the largest accepted metadata leaves its event's leaf well
// inside the bundle's 16-bit length.
func TestMetadataCannotOutgrowABundle(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"a":[1e20`)
	for b.Len() < domain.MaxMetadataBytes-10 {
		b.WriteString(",1e20")
	}
	b.WriteString(`]}`)
	if err := domain.ValidateMetadata([]byte(b.String())); err == nil {
		t.Fatalf("metadata of %d bytes whose canonical form is about 70 KiB was accepted", b.Len())
	}
}
