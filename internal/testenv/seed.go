package testenv

import (
	"flag"
	"math/rand/v2"
	"testing"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomised tests (testenv.Seed); 0: a new one for each test, logged")

// Seed returns the seed of a randomised test and logs it with the command
// that replays it: the -seed flag's value when set (go test ./pkg -run
// '^TestX$' -seed=N: after the package, where go test hands flags it does
// not know to the test binary), else a random one.
func Seed(t testing.TB) uint64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (replay: go test ./PACKAGE -run '^%s$' -seed=%d)", s, t.Name(), s)
	return s
}
