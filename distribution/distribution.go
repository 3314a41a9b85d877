// Package distribution reads a board's score distribution from a running
// service (GET /leaderboard/distribution, staff) and shows it: a text table
// and an SVG plot (gonum.org/v1/plot) with log-scale counts. The service
// computes it exactly from the board it holds in memory, so reading it costs
// the service a few prefix sums and this package no store access at all.
package distribution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Bucket is the number of customers with From to To points.
type Bucket struct {
	From  int64 `json:"from"`
	To    int64 `json:"to"`
	Count int64 `json:"count"`
}

// Distribution is the answer of GET /leaderboard/distribution.
type Distribution struct {
	Board       string           `json:"board"`
	TotalRanked int64            `json:"totalRanked"`
	Min         int64            `json:"min"`
	Max         int64            `json:"max"`
	Buckets     []Bucket         `json:"buckets"`
	Quantiles   map[string]int64 `json:"quantiles"`
	AsOf        struct {
		Seq uint64     `json:"seq"`
		At  *time.Time `json:"at"`
	} `json:"asOf"`
}

// QuantileNames are the quantiles the service reports, in order.
var QuantileNames = []string{"p50", "p90", "p99", "p99.9"}

// Request says what to fetch and from where.
type Request struct {
	BaseURL string // the service, e.g. http://127.0.0.1:8080
	Token   string // a staff bearer token
	Board   string // all-time, season or a season's name; empty: all-time
	Buckets int    // 1 to 100; 0: the service's default (20)
}

// Fetch reads the distribution from the service. An answer other than 200
// is an error carrying the service's own explanation (its problem detail).
func Fetch(ctx context.Context, c *http.Client, r Request) (Distribution, error) {
	u, err := url.Parse(strings.TrimSuffix(r.BaseURL, "/") + "/leaderboard/distribution")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Distribution{}, fmt.Errorf("service URL %q: want http://host:port or https://host:port", r.BaseURL)
	}
	q := url.Values{}
	if r.Board != "" {
		q.Set("board", r.Board)
	}
	if r.Buckets != 0 {
		q.Set("buckets", strconv.Itoa(r.Buckets))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Distribution{}, fmt.Errorf("distribution request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return Distribution{}, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return Distribution{}, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if res.StatusCode != http.StatusOK {
		var p struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(body, &p) == nil && p.Detail != "" {
			return Distribution{}, fmt.Errorf("GET %s: %s: %s: %s", u.Redacted(), res.Status, p.Title, p.Detail)
		}
		return Distribution{}, fmt.Errorf("GET %s: %s (is this the loyalty service?)", u.Redacted(), res.Status)
	}
	var d Distribution
	if err := json.Unmarshal(body, &d); err != nil {
		return Distribution{}, fmt.Errorf("GET %s: the answer is not a distribution: %w", u.Redacted(), err)
	}
	return d, nil
}

// WriteTable writes the distribution as text: a summary line, the
// quantiles and one line per score range.
func WriteTable(w io.Writer, d Distribution) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "board %s: %d customers with points, from %d to %d points (as of change %d)\n", d.Board, d.TotalRanked, d.Min, d.Max, d.AsOf.Seq)
	for _, q := range QuantileNames {
		if v, ok := d.Quantiles[q]; ok {
			fmt.Fprintf(tw, "%s\t%d\t\n", q, v)
		}
	}
	fmt.Fprintf(tw, "from\tto\tcustomers\t\n")
	for _, b := range d.Buckets {
		fmt.Fprintf(tw, "%d\t%d\t%d\t\n", b.From, b.To, b.Count)
	}
	return tw.Flush()
}

// ErrEmpty means the board has nobody on it: there is nothing to plot.
var ErrEmpty = errors.New("the board has no customers with points: nothing to plot")
