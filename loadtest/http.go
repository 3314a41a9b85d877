package loadtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BriefDashboardsPerSec is the dashboard rate the brief plans for; the
// report says how many Redis cores each approach needs for it.
const BriefDashboardsPerSec = 100_000

// HTTPCost is what one approach's HTTP dashboard costs Redis, and so how
// many API processes one Redis core can feed.
type HTTPCost struct {
	System string `json:"system"` // ours or baseline (the user's alternative)
	// PerSec is the dashboards/s one API process answered in the run.
	PerSec float64 `json:"dashboards_per_sec"`
	// RedisUs is Redis's main-thread CPU per dashboard, in microseconds.
	RedisUs float64 `json:"redis_cpu_us_per_dashboard"`
	// PerRedisCore is the dashboards/s one Redis core can serve (1 s / RedisUs).
	PerRedisCore float64 `json:"dashboards_per_redis_core"`
	// ProcessesPerRedisCore is how many API processes like the measured one
	// one Redis core can feed: PerRedisCore / PerSec.
	ProcessesPerRedisCore float64 `json:"api_processes_per_redis_core"`
	// RedisCores is the Redis cores BriefDashboardsPerSec need.
	RedisCores float64 `json:"redis_cores_for_brief_rate"`
}

// http measures, over HTTP and taking turns, a running `loyalty serve`'s GET
// /readyz and GET /loyalty/{id} (system ours), the same of another build's
// (system before, with HTTPBefore) and the user's alternative's (system
// baseline): a Gin route of this process serving the same dashboard from the
// sorted set (see alternative).
func (b *bench) http(ctx context.Context) ([]Phase, error) {
	if b.cfg.HTTPURL == "" {
		return nil, nil
	}
	ours := strings.TrimSuffix(b.cfg.HTTPURL, "/")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: b.cfg.Concurrency * 4, MaxIdleConnsPerHost: b.cfg.Concurrency * 2, IdleConnTimeout: time.Minute,
	}}
	defer client.CloseIdleConnections()
	get := func(ctx context.Context, url, token string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return 1, nil
	}
	if _, err := get(ctx, ours+"/readyz", ""); err != nil {
		return nil, fmt.Errorf("--http %s: %w", b.cfg.HTTPURL, err)
	}
	servers := []struct{ system, url, token string }{{"ours", ours, b.cfg.Token}}
	if b.cfg.HTTPBefore != "" {
		before := strings.TrimSuffix(b.cfg.HTTPBefore, "/")
		if _, err := get(ctx, before+"/readyz", ""); err != nil {
			return nil, fmt.Errorf("--http-before %s: %w", b.cfg.HTTPBefore, err)
		}
		servers = append(servers, struct{ system, url, token string }{"before", before, b.cfg.Token})
	}
	alt, stop, err := newAlternative(b.rdb, b.zkey).serve()
	if err != nil {
		return nil, err
	}
	defer stop()
	servers = append(servers, struct{ system, url, token string }{"baseline", alt, ""})
	q := fmt.Sprintf("?top=%d&around=%d", b.cfg.Top, b.cfg.Around)
	type target struct {
		name, system string
		op           func(context.Context, *rand.Rand) (int, error)
	}
	var targets []target
	for _, s := range servers {
		targets = append(targets,
			target{"GET /readyz", s.system, func(ctx context.Context, _ *rand.Rand) (int, error) {
				return get(ctx, s.url+"/readyz", "")
			}},
			target{"GET /loyalty/{id}", s.system, func(ctx context.Context, rng *rand.Rand) (int, error) {
				return get(ctx, s.url+"/loyalty/"+strconv.FormatUint(b.randomCustomer(rng), 10)+q, s.token)
			}})
	}
	// The machine's other load drifts: each target runs in slices of at
	// most a second, taking turns (each round starting one further), so
	// every target sees the same conditions; a target's phase is its slices
	// together, Duration in all.
	slice := min(b.cfg.Duration, time.Second)
	rounds := int((b.cfg.Duration + slice - 1) / slice)
	out := make([]Phase, len(targets))
	for r := range rounds {
		for j := range targets {
			i := (r + j) % len(targets)
			t := targets[i]
			p := b.measure(ctx, t.name, t.system, b.cfg.Concurrency, slice, t.op)
			if r == 0 {
				out[i] = p
			} else {
				out[i] = merge(out[i], p)
			}
		}
	}
	for _, p := range out {
		b.logPhase(p)
	}
	return out, nil
}

// httpCosts fills HTTP from the HTTP dashboard phases.
func (r *Report) httpCosts() {
	for _, system := range []string{"ours", "baseline"} {
		p := r.phase("GET /loyalty/{id}", system)
		if p == nil || p.PerSec <= 0 || p.RedisUs <= 0 {
			continue
		}
		c := HTTPCost{System: system, PerSec: p.PerSec, RedisUs: p.RedisUs, PerRedisCore: 1e6 / p.RedisUs,
			RedisCores: BriefDashboardsPerSec * p.RedisUs / 1e6}
		c.ProcessesPerRedisCore = c.PerRedisCore / c.PerSec
		r.HTTP = append(r.HTTP, c)
	}
}
