// Package promtest reads Prometheus collectors in tests: the value of each
// gauge and counter, by name and labels.
package promtest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Values registers cs in a registry of their own, gathers them and returns
// the value of every gauge and counter, keyed by name, then the labels in
// braces, sorted (loyalty_ingest_orders{result="applied"}). A collector
// that fails to register or gather fails the test.
func Values(t testing.TB, cs ...prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			if ls := m.GetLabel(); len(ls) > 0 {
				kv := make([]string, len(ls))
				for i, l := range ls {
					kv[i] = fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
				}
				sort.Strings(kv)
				key += "{" + strings.Join(kv, ",") + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}
