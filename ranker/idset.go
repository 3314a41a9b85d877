package ranker

import "sort"

// blockMax is the largest block of an idSet. Inserting or removing moves at
// most blockMax ids; a tie group of n customers costs about 9-12 bytes per
// id: 8 for the id, the rest block headers and room to grow.
const blockMax = 1024

// idSet is a sorted set of customer ids, split into sorted blocks so that a
// tie group of millions of customers stays cheap to change. Not safe for
// concurrent use; Board guards it.
type idSet struct {
	blocks [][]uint64 // non-empty, each sorted ascending, blocks in order
	n      int
}

// locate returns the index of the first block whose last id is >= id
// (len(blocks) if none).
func (s *idSet) locate(id uint64) int {
	return sort.Search(len(s.blocks), func(i int) bool {
		b := s.blocks[i]
		return b[len(b)-1] >= id
	})
}

func (s *idSet) insert(id uint64) {
	bi := s.locate(id)
	if bi == len(s.blocks) {
		if bi == 0 {
			s.blocks = append(s.blocks, make([]uint64, 0, 8))
		}
		bi = len(s.blocks) - 1
	}
	b := s.blocks[bi]
	i := sort.Search(len(b), func(j int) bool { return b[j] >= id })
	if i < len(b) && b[i] == id {
		return
	}
	b = append(b, 0)
	copy(b[i+1:], b[i:])
	b[i] = id
	s.n++
	if len(b) <= blockMax {
		s.blocks[bi] = b
		return
	}
	// Split into two blocks with a little room each: slack costs memory on
	// every block of a tie group of millions.
	half := len(b) / 2
	left := make([]uint64, half, half+half/8)
	copy(left, b[:half])
	right := make([]uint64, len(b)-half, half+half/8)
	copy(right, b[half:])
	s.blocks[bi] = left
	s.blocks = append(s.blocks, nil)
	copy(s.blocks[bi+2:], s.blocks[bi+1:])
	s.blocks[bi+1] = right
}

func (s *idSet) remove(id uint64) bool {
	bi := s.locate(id)
	if bi == len(s.blocks) {
		return false
	}
	b := s.blocks[bi]
	i := sort.Search(len(b), func(j int) bool { return b[j] >= id })
	if i == len(b) || b[i] != id {
		return false
	}
	copy(b[i:], b[i+1:])
	b = b[:len(b)-1]
	s.n--
	if len(b) == 0 {
		s.blocks = append(s.blocks[:bi], s.blocks[bi+1:]...)
		return true
	}
	s.blocks[bi] = b
	// Merge small neighbours so blocks stay at least a quarter full.
	if len(b) < blockMax/4 && bi+1 < len(s.blocks) && len(b)+len(s.blocks[bi+1]) <= blockMax {
		s.blocks[bi] = append(b, s.blocks[bi+1]...)
		s.blocks = append(s.blocks[:bi+1], s.blocks[bi+2:]...)
	}
	return true
}

// before appends to dst up to k ids smaller than id, nearest first.
func (s *idSet) before(dst []uint64, id uint64, k int) []uint64 {
	bi := s.locate(id)
	i := 0
	if bi == len(s.blocks) {
		bi--
		if bi < 0 {
			return dst
		}
		i = len(s.blocks[bi])
	} else {
		b := s.blocks[bi]
		i = sort.Search(len(b), func(j int) bool { return b[j] >= id })
	}
	for taken := 0; taken < k; {
		i--
		if i < 0 {
			bi--
			if bi < 0 {
				break
			}
			i = len(s.blocks[bi]) - 1
		}
		dst = append(dst, s.blocks[bi][i])
		taken++
	}
	return dst
}

// after appends to dst up to k ids greater than id, nearest first.
func (s *idSet) after(dst []uint64, id uint64, k int) []uint64 {
	bi := s.locate(id)
	if bi == len(s.blocks) {
		return dst
	}
	b := s.blocks[bi]
	i := sort.Search(len(b), func(j int) bool { return b[j] > id })
	for taken := 0; taken < k; {
		if i == len(s.blocks[bi]) {
			bi++
			if bi == len(s.blocks) {
				break
			}
			i = 0
		}
		dst = append(dst, s.blocks[bi][i])
		i++
		taken++
	}
	return dst
}

// first appends the k smallest ids, ascending.
func (s *idSet) first(dst []uint64, k int) []uint64 { return s.after(dst, 0, k) }

// last appends the k largest ids, largest first.
func (s *idSet) last(dst []uint64, k int) []uint64 {
	if len(s.blocks) == 0 {
		return dst
	}
	b := s.blocks[len(s.blocks)-1]
	max := b[len(b)-1]
	dst = append(dst, max)
	if k <= 1 {
		return dst
	}
	return s.before(dst, max, k-1)
}
