package audit

// The tests cross the whole-tree check's chunks with a few hundred leaves.
func init() { wholeChunk = 64 }
