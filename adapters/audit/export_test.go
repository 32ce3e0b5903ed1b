package audit

// The tests cross the whole-tree check's chunks with a few hundred leaves.
func init() { wholeChunk = 64 }

// CountTileReads counts the reads of tiles p's proofs make after their
// first statement.
func CountTileReads(p *Prover, f func()) { p.onLoad = f }
