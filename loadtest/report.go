package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

func (r *Report) phase(name, system string) *Phase {
	for i := range r.Phases {
		if r.Phases[i].Name == name && r.Phases[i].System == system {
			return &r.Phases[i]
		}
	}
	return nil
}

// ratios fills Ratios: every pair of ours and the baseline's figures, ours
// / baseline, and each HTTP dashboard against its server's /readyz.
func (r *Report) ratios() {
	set := func(key string, a, b float64) {
		if b != 0 {
			r.Ratios[key] = a / b
		}
	}
	for _, p := range r.Phases {
		if p.System != "ours" {
			continue
		}
		if base := r.phase(p.Name, "baseline"); base != nil {
			set(p.Name+": per sec", p.PerSec, base.PerSec)
			set(p.Name+": p99", p.P99us, base.P99us)
		}
	}
	if d, h := r.phase("GET /loyalty/{id}", "ours"), r.phase("GET /readyz", "ours"); d != nil && h != nil {
		set("http dashboard / readyz: per sec", d.PerSec, h.PerSec)
		set("http dashboard / readyz: p99", d.P99us, h.P99us)
	}
	if d, h := r.phase("GET /loyalty/{id}", "baseline"), r.phase("GET /readyz", "baseline"); d != nil && h != nil {
		set("http baseline's dashboard / its readyz: per sec", d.PerSec, h.PerSec)
	}
	if d, h := r.phase("GET /loyalty/{id}", "before"), r.phase("GET /readyz", "before"); d != nil && h != nil {
		set("http before's dashboard / its readyz: per sec", d.PerSec, h.PerSec)
		if o := r.phase("GET /loyalty/{id}", "ours"); o != nil {
			set("http dashboard / before's: per sec", o.PerSec, d.PerSec)
		}
	}
	m := r.Memory
	if m.Measured {
		set("memory: redis bytes per customer", m.OursRedisPerCustomer, m.BaselinePerCustomer)
		set("memory: redis + one ranker per customer", m.OursRedisPerCustomer+m.RankerRSSPerCustomer, m.BaselinePerCustomer)
		set("seed: seconds", m.SeedOursSeconds, m.SeedBaselineSeconds)
	}
}

// WriteTable writes the report as text tables.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "phase\tsystem\titems/s\tp50 us\tp99 us\tp99.9 us\tcalls\terrors\tredis us/item\tredis busy\t note\n")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.1f\t%.0f%%\t %s\n",
			p.Name, p.System, p.PerSec, p.P50us, p.P99us, p.P999us, p.Ops, p.Errors, p.RedisUs, 100*p.RedisCPU, p.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	m := r.Memory
	fmt.Fprintln(w)
	if m.Measured {
		fmt.Fprintf(w, "memory per customer: ours %.1f B in Redis (balances + histogram), baseline %.1f B; ranker replica +%.1f B RSS (%.1f B live heap) per customer in each API process\n",
			m.OursRedisPerCustomer, m.BaselinePerCustomer, m.RankerRSSPerCustomer, float64(m.RankerHeapBytes)/float64(r.Config.Customers))
		fmt.Fprintf(w, "seeding: ours %.1f s (%.0f customers/s through Rebuild), baseline %.1f s; replica snapshot load %.1f s\n",
			m.SeedOursSeconds, m.SeedOursCustomersPerSec, m.SeedBaselineSeconds, m.ReplicaLoadSeconds)
		if m.SeasonCustomers > 0 {
			fmt.Fprintf(w, "a season board: %.1f B in Redis per customer on it (%d customers, %.1f MB)\n",
				m.SeasonPerCustomer, m.SeasonCustomers, float64(m.SeasonRedisBytes)/1e6)
		}
	} else {
		fmt.Fprintf(w, "memory per customer: not measured (--skip-seed); ranker replica +%.1f B RSS per customer\n", m.RankerRSSPerCustomer)
	}
	if m.WritesChanges > 0 {
		fmt.Fprintf(w, "our writes leave %.0f B in Redis per change (change log %.0f B per entry until shipped and trimmed, remembered change id %.0f B for the dedupe window)\n",
			m.WriteBytesPerChange, m.LogBytesPerEntry, m.DedupeBytesPerChange)
	}
	for _, c := range r.HTTP {
		fmt.Fprintf(w, "http dashboard, %s: %.1f us of Redis CPU each: one Redis core feeds %.0f dashboards/s, %.1f API processes at the %.0f/s of this run; %d dashboards/s need %.2f Redis cores\n",
			c.System, c.RedisUs, c.PerRedisCore, c.ProcessesPerRedisCore, c.PerSec, BriefDashboardsPerSec, c.RedisCores)
	}
	fmt.Fprintf(w, "correctness: %d sampled dashboards, %d mismatches\n", r.Check.Sampled, r.Check.Mismatches)
	for _, e := range r.Check.Examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ratio (ours / baseline)\tvalue\t\n")
	for _, k := range sortedKeys(r.Ratios) {
		fmt.Fprintf(tw, "%s\t%.2f\t\n", k, r.Ratios[k])
	}
	return tw.Flush()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
