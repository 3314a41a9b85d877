package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// Exit status of healthcheck when the probe answered but not 200.
const exitUnhealthy = 1

func healthcheckCmd() *cobra.Command {
	var url, probe string
	var timeout time.Duration
	cmd := command("healthcheck", "Probe the local server (for a container healthcheck in an image without curl): exit 0 when the probe answers 200",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if url == "" {
				url = "http://" + dialAddr(e.cfg.HTTP.Addr) + "/" + probe
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("healthcheck: --url %q: %w", url, err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck %s: %w", url, err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
			if res.StatusCode != http.StatusOK {
				return &exitError{exitUnhealthy, fmt.Sprintf("healthcheck %s: %s %s", url, res.Status, body)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s", url, body)
			return nil
		})
	f := cmd.Flags()
	f.StringVar(&probe, "probe", "readyz", "livez (the process), readyz (can serve dashboards) or healthz (dependencies), on http.addr")
	f.StringVar(&url, "url", "", "probe this URL instead (e.g. http://127.0.0.1:9090/livez on the admin listener)")
	f.DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// dialAddr turns a listen address into one to dial on this host: an
// unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") is the loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
