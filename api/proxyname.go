package api

import (
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/xyz/loyalty/ranker"
)

var (
	//go:embed words/adjectives.txt
	adjectiveList string
	//go:embed words/animals.txt
	animalList string
)

func words(list string) []string { return strings.Fields(list) }

// ProxyNamer derives proxy names: stable, readable pseudonyms such as
// "Amber Falcon 4821" that dashboards show instead of customer ids.
//
// The name of customer id is read off HMAC-SHA256(key, decimal id): the
// first byte picks one of 128 adjectives, the second one of 128 animals, and
// bytes 2-5 (big-endian, mod 10000) the number, so there are 163,840,000
// names. The same key always gives the same name. Without the key the
// mapping can't be computed, so a name can't be traced back to an id (not
// even by trying every id, which needs the key for each guess); with it,
// anyone can. Names are not unique: among 50 million customers many share a
// name, which is fine for a pseudonym and never used as an identifier.
//
// Safe for concurrent use.
type ProxyNamer struct {
	adjectives, animals []string
	pool                sync.Pool
	// top is the last top list named: the top of the board is on every
	// dashboard and rarely changes, so naming it reads one short list. The
	// other lines of a dashboard are random customers, named afresh: at
	// 100k dashboards/s no bounded cache would keep them long enough to be
	// asked again.
	top atomic.Pointer[namedTop]
}

// namedTop is a top list's customer ids and their names.
type namedTop struct {
	ids   []uint64
	names []string
}

// NewProxyNamer returns a namer keyed with key.
func NewProxyNamer(key []byte) *ProxyNamer {
	k := append([]byte(nil), key...)
	n := &ProxyNamer{adjectives: words(adjectiveList), animals: words(animalList)}
	n.pool.New = func() any { return hmac.New(sha256.New, k) }
	return n
}

// Name returns the proxy name of customer id.
func (n *ProxyNamer) Name(id uint64) string {
	h := n.pool.Get().(hash.Hash)
	var buf [20]byte
	h.Reset()
	h.Write(strconv.AppendUint(buf[:0], id, 10))
	var sum [sha256.Size]byte
	s := h.Sum(sum[:0])
	n.pool.Put(h)
	adj := n.adjectives[int(s[0])%len(n.adjectives)]
	animal := n.animals[int(s[1])%len(n.animals)]
	num := binary.BigEndian.Uint32(s[2:6]) % 10000
	out := make([]byte, 0, len(adj)+len(animal)+6)
	out = append(append(append(out, adj...), ' '), animal...)
	out = append(out, ' ', byte('0'+num/1000), byte('0'+num/100%10), byte('0'+num/10%10), byte('0'+num%10))
	return string(out)
}

// topNames returns the proxy names of a top list's customers, in its
// order. The result is shared: never modify it.
func (n *ProxyNamer) topNames(es []ranker.Entry) []string {
	if len(es) == 0 {
		return nil // an empty top (a board still loading) leaves the remembered one
	}
	if t := n.top.Load(); t != nil && len(t.ids) >= len(es) {
		same := true
		for i, e := range es {
			if t.ids[i] != e.CustomerID {
				same = false
				break
			}
		}
		if same {
			return t.names[:len(es)]
		}
	}
	t := &namedTop{ids: make([]uint64, len(es)), names: make([]string, len(es))}
	for i, e := range es {
		t.ids[i], t.names[i] = e.CustomerID, n.Name(e.CustomerID)
	}
	n.top.Store(t)
	return t.names
}
