// Package token is the one user_data codec of uringd's ring users (netio, fileio, logger).
//
// A Token packs the kind of an operation, the slot of the state it refers to and that slot's
// generation into the 64 bits io_uring carries from an SQE to its CQE. Kinds are disjoint by
// construction, so the token of an operation can never equal a token reserved for
// housekeeping (a cancel, a wakeup), however far the generation has run; and a CQE whose
// generation is not the slot's current one belongs to a use of the slot that has ended.
//
// Layout: kind in bits 56-63, generation in bits 32-55, slot in bits 0-31. Kind 0xFF is
// never handed out: ring reserves the user_data values from ^0-2 up for its own operations,
// and they all have that kind.
package token

// Kind says which table an operation's slot indexes and how its completion is handled.
// Each ring user numbers its own kinds from 1; 0 is never a valid kind, so a zeroed
// user_data is never taken for an operation.
type Kind uint8

// MaxKind is the largest kind a user may define.
const MaxKind Kind = 0xFE

// GenBits is the width of the generation; generations wrap modulo 1<<GenBits.
const GenBits = 24

// GenMask masks a generation to its width.
const GenMask = 1<<GenBits - 1

// Token is one operation's user_data.
type Token uint64

// Make packs kind, slot and gen (taken modulo 1<<GenBits). It panics for kind 0 or above
// MaxKind, which is a programming error that must not reach the kernel.
func Make(k Kind, slot, gen uint32) Token {
	if k == 0 || k > MaxKind {
		panic("token: invalid kind")
	}
	return Token(uint64(k)<<56 | uint64(gen&GenMask)<<32 | uint64(slot))
}

// Kind is the token's kind; 0 for a value no Make produced (such as ring's reserved ones,
// which read as 0xFF, or a zero user_data).
func (t Token) Kind() Kind {
	k := Kind(t >> 56)
	if k > MaxKind {
		return 0
	}
	return k
}

// Slot is the token's slot.
func (t Token) Slot() uint32 { return uint32(t) }

// Gen is the token's generation.
func (t Token) Gen() uint32 { return uint32(t>>32) & GenMask }

// NextGen is the generation after g, wrapped to GenBits.
func NextGen(g uint32) uint32 { return (g + 1) & GenMask }
