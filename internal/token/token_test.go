package token

import (
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, k := range []Kind{1, 2, 0x7F, MaxKind} {
		for _, slot := range []uint32{0, 1, 4095, math.MaxUint32} {
			for _, gen := range []uint32{0, 1, GenMask - 1, GenMask} {
				tk := Make(k, slot, gen)
				if tk.Kind() != k || tk.Slot() != slot || tk.Gen() != gen {
					t.Fatalf("Make(%d, %d, %d) = %#x: kind %d slot %d gen %d", k, slot, gen, uint64(tk), tk.Kind(), tk.Slot(), tk.Gen())
				}
			}
		}
	}
}

// The defect this codec exists for: an operation's token grew into a reserved value once
// its generation reached 1<<30. Every generation, including wrapped ones, keeps its kind.
func TestKindsNeverCollide(t *testing.T) {
	const op, cancel Kind = 1, 2
	c := Make(cancel, 0, 0)
	for _, gen := range []uint32{0, 1 << 23, 1<<24 - 1, 1 << 24, 1<<30 - 1, 1 << 30, math.MaxUint32} {
		tk := Make(op, 0, gen)
		if tk == c || tk.Kind() != op {
			t.Fatalf("gen %#x: token %#x collides with cancel %#x or lost its kind (%d)", gen, uint64(tk), uint64(c), tk.Kind())
		}
	}
	if NextGen(GenMask) != 0 {
		t.Fatalf("NextGen(GenMask) = %d, want 0", NextGen(GenMask))
	}
}

// ring's reserved user_data values are never read as a user kind.
func TestRingReserved(t *testing.T) {
	for _, ud := range []uint64{math.MaxUint64, math.MaxUint64 - 1, math.MaxUint64 - 2, 0} {
		if k := Token(ud).Kind(); k != 0 {
			t.Fatalf("user_data %#x read as kind %d", ud, k)
		}
	}
}

func TestMakePanicsOnInvalidKind(t *testing.T) {
	for _, k := range []Kind{0, MaxKind + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("Make(kind %d) did not panic", k)
				}
			}()
			Make(k, 0, 0)
		}()
	}
}

func TestZeroAllocs(t *testing.T) {
	var sink Token
	if n := testing.AllocsPerRun(100, func() { sink = Make(3, 7, 9); _ = sink.Gen() }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
