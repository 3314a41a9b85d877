package api

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Config configures the API. Build it with DefaultConfig and set the secrets
// (Auth keys and ProxyKey); New validates it.
type Config struct {
	DefaultTop    int // top-N when the request gives none
	MaxTop        int // the largest top-N a request may ask
	DefaultAround int // neighbours on each side when the request gives none
	MaxAround     int // the most neighbours on each side a request may ask
	// MaxBodyBytes limits a request body; larger bodies get 413.
	MaxBodyBytes int64
	// Auth verifies bearer tokens.
	Auth AuthConfig
	// ProxyKey is the secret key of the keyed hash that derives proxy names
	// from customer ids (at least 16 bytes; 32 random bytes recommended).
	// Changing it renames every customer.
	ProxyKey []byte
	// RequestTimeout bounds each request: a dependency that does not answer
	// in time gives 503.
	RequestTimeout time.Duration
	// RetryAfter is the delay advertised in the Retry-After header of 503s.
	RetryAfter time.Duration
	// DevSignIn routes POST /dev/token, which mints a customer or staff
	// token signed with Auth.HS256Key for anyone who asks: the web page's
	// development sign-in. Only for the embedded store's demo, never in
	// production (serve sets it only when no Redis is configured).
	DevSignIn bool
	// AdminOnlyMetrics leaves /metrics off the public handler: it is served
	// by AdminHandler alone (http.admin_addr).
	AdminOnlyMetrics bool
}

// AuthConfig configures bearer-token verification. At least one of the keys
// is required; a token must be signed with the algorithm of a configured key
// (HS256 with HS256Key, RS256 with the RSA public key), and name Issuer and
// Audience.
type AuthConfig struct {
	HS256Key          []byte        // shared secret, at least 32 bytes
	RS256PublicKeyPEM []byte        // PEM-encoded RSA public key (PKIX or PKCS#1)
	Issuer            string        // required "iss"
	Audience          string        // required in "aud"
	Leeway            time.Duration // clock skew allowed on exp, nbf and iat
}

// DefaultConfig returns the defaults: top 10 (at most 100), 2 neighbours (at
// most 10), 16 KiB bodies, 3 s per request. Keys are left empty.
func DefaultConfig() Config {
	return Config{
		DefaultTop: 10, MaxTop: 100, DefaultAround: 2, MaxAround: 10,
		MaxBodyBytes:   16 << 10,
		Auth:           AuthConfig{Issuer: "loyalty", Audience: "loyalty-api", Leeway: 30 * time.Second},
		RequestTimeout: 3 * time.Second,
		RetryAfter:     2 * time.Second,
	}
}

func (c Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.MaxTop < 1 || c.MaxTop > 1000 {
		bad("MaxTop must be 1..1000, got %d", c.MaxTop)
	}
	if c.DefaultTop < 1 || c.DefaultTop > c.MaxTop {
		bad("DefaultTop must be 1..MaxTop (%d), got %d", c.MaxTop, c.DefaultTop)
	}
	if c.MaxAround < 0 || c.MaxAround > 100 {
		bad("MaxAround must be 0..100, got %d", c.MaxAround)
	}
	if c.DefaultAround < 0 || c.DefaultAround > c.MaxAround {
		bad("DefaultAround must be 0..MaxAround (%d), got %d", c.MaxAround, c.DefaultAround)
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<20 {
		bad("MaxBodyBytes must be 1 KiB..1 MiB, got %d", c.MaxBodyBytes)
	}
	if len(c.ProxyKey) < 16 {
		bad("ProxyKey must be at least 16 bytes, got %d", len(c.ProxyKey))
	}
	if c.RequestTimeout <= 0 {
		bad("RequestTimeout must be positive, got %s", c.RequestTimeout)
	}
	if c.RetryAfter < time.Second {
		bad("RetryAfter must be at least 1s, got %s", c.RetryAfter)
	}
	if c.DevSignIn && len(c.Auth.HS256Key) == 0 {
		bad("DevSignIn needs Auth.HS256Key to sign the tokens it mints")
	}
	if _, err := c.Auth.keys(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("api config: %w", err)
	}
	return nil
}

// verifyKeys are the parsed keys of an AuthConfig.
type verifyKeys struct {
	hs  []byte
	rsa *rsa.PublicKey
}

func (a AuthConfig) keys() (verifyKeys, error) {
	var k verifyKeys
	var errs []error
	if len(a.HS256Key) == 0 && len(a.RS256PublicKeyPEM) == 0 {
		errs = append(errs, errors.New("Auth needs HS256Key or RS256PublicKeyPEM"))
	}
	if len(a.HS256Key) > 0 {
		if len(a.HS256Key) < 32 {
			errs = append(errs, fmt.Errorf("Auth.HS256Key must be at least 32 bytes, got %d", len(a.HS256Key)))
		}
		k.hs = a.HS256Key
	}
	if len(a.RS256PublicKeyPEM) > 0 {
		pub, err := jwt.ParseRSAPublicKeyFromPEM(a.RS256PublicKeyPEM)
		if err != nil {
			errs = append(errs, fmt.Errorf("Auth.RS256PublicKeyPEM: %w", err))
		}
		k.rsa = pub
	}
	if a.Issuer == "" {
		errs = append(errs, errors.New("Auth.Issuer is required"))
	}
	if a.Audience == "" {
		errs = append(errs, errors.New("Auth.Audience is required"))
	}
	if a.Leeway < 0 || a.Leeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("Auth.Leeway must be 0..5m, got %s", a.Leeway))
	}
	return k, errors.Join(errs...)
}
