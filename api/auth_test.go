package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/xyz/loyalty/api"
)

// sign makes a token with the given claims over the test config's defaults.
func sign(t testing.TB, cfg api.AuthConfig, method jwt.SigningMethod, key any, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": cfg.Issuer, "aud": cfg.Audience, "sub": "101", "role": "staff",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if edit != nil {
		edit(c)
	}
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAuthorizationMatrix sends every route every kind of token: valid
// tokens of each role, and missing, forged, expired and foreign ones.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t)
	staff := e.token(t, "agent-7", "staff")
	want(t, e.post(t, "/loyalty/202", staff, `{"loyalty-points":40,"reason":"setup","idempotencyKey":"setup-202"}`), 201)
	want(t, e.post(t, "/loyalty/101", staff, `{"loyalty-points":10,"reason":"setup","idempotencyKey":"setup-101"}`), 201)

	a := e.cfg.Auth
	hs := a.HS256Key
	tokens := map[string]string{
		"customer":       e.token(t, "101", "customer"),
		"channel":        e.token(t, "web-shop", "channel"),
		"staff":          staff,
		"none":           "",
		"bad-signature":  sign(t, a, jwt.SigningMethodHS256, []byte("another-key-another-key-another-key!"), nil),
		"expired":        sign(t, a, jwt.SigningMethodHS256, hs, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
		"no-expiry":      sign(t, a, jwt.SigningMethodHS256, hs, func(c jwt.MapClaims) { delete(c, "exp") }),
		"wrong-audience": sign(t, a, jwt.SigningMethodHS256, hs, func(c jwt.MapClaims) { c["aud"] = "another-api" }),
		"wrong-issuer":   sign(t, a, jwt.SigningMethodHS256, hs, func(c jwt.MapClaims) { c["iss"] = "someone" }),
		"not-yet-valid":  sign(t, a, jwt.SigningMethodHS256, hs, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }),
		"hs512":          sign(t, a, jwt.SigningMethodHS512, hs, nil),
		"alg-none":       sign(t, a, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil),
		"unknown-role":   sign(t, a, jwt.SigningMethodHS256, hs, func(c jwt.MapClaims) { c["role"] = "admin" }),
		"no-subject":     sign(t, a, jwt.SigningMethodHS256, hs, func(c jwt.MapClaims) { delete(c, "sub") }),
		"garbage":        "not.a.token",
	}
	type route struct{ name, method, path, body string }
	n := 0
	routes := func() []route {
		n++
		return []route{
			{"own dashboard", "GET", "/loyalty/101", ""},
			{"other dashboard", "GET", "/loyalty/202", ""},
			{"unknown dashboard", "GET", "/loyalty/303", ""},
			{"points own", "POST", "/loyalty/101", fmt.Sprintf(`{"loyalty-points":1,"reason":"r","idempotencyKey":"m-%d"}`, n)},
			{"points other", "POST", "/loyalty/202", fmt.Sprintf(`{"loyalty-points":1,"reason":"r","idempotencyKey":"n-%d"}`, n)},
			{"order", "POST", fmt.Sprintf("/order/auth-%d", n), orderBody("101", "20", "GBP")},
		}
	}
	allowed := map[string]map[string]int{
		"customer": {"own dashboard": 200},
		"channel":  {"order": 201},
		"staff":    {"own dashboard": 200, "other dashboard": 200, "unknown dashboard": 200, "points own": 201, "points other": 201},
	}
	bodies := map[string]string{} // status -> the problem without instance and request id
	for who, tok := range tokens {
		for _, rt := range routes() {
			t.Run(who+"/"+rt.name, func(t *testing.T) {
				r := e.do(t, req{method: rt.method, path: rt.path, token: tok, body: rt.body})
				wantStatus := 401
				if m, ok := allowed[who]; ok {
					wantStatus = 403
					if s, ok := m[rt.name]; ok {
						wantStatus = s
					}
				}
				want(t, r, wantStatus)
				if wantStatus < 400 {
					return
				}
				p := r.Problem(t)
				if wantStatus == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("401 without a Bearer challenge: %v", r.Header)
				}
				// No problem says anything about the customer: for one status,
				// token role and route, every body is the same whoever is
				// asked about (a 403 names the role the route needs).
				key := fmt.Sprint(p.Status, who == "none")
				if p.Status == 403 {
					key += " " + who + " " + rt.method + " " + strings.Split(rt.path, "/")[1]
				}
				p.Instance, p.RequestID = "", ""
				s := fmt.Sprintf("%+v", p)
				if prev, ok := bodies[key]; ok && prev != s {
					t.Fatalf("problem bodies differ:\n%s\n%s", prev, s)
				}
				bodies[key] = s
			})
		}
	}
}

// TestRS256 accepts RS256 tokens from the configured public key, alongside
// HS256, and refuses an HS256 token keyed with the public key (algorithm
// confusion).
func TestRS256(t *testing.T) {
	t.Parallel()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	e := newEmbeddedEnv(t, func(c *api.Config) { c.Auth.RS256PublicKeyPEM = pub })
	a := e.cfg.Auth
	want(t, e.get(t, "/loyalty/101", sign(t, a, jwt.SigningMethodRS256, priv, nil)), 200)
	want(t, e.get(t, "/loyalty/101", e.token(t, "101", "customer")), 200)
	want(t, e.get(t, "/loyalty/101", sign(t, a, jwt.SigningMethodHS256, pub, nil)), 401)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	want(t, e.get(t, "/loyalty/101", sign(t, a, jwt.SigningMethodRS256, other, nil)), 401)

	// RS256 alone: HS256 tokens are refused.
	e = newEmbeddedEnv(t, func(c *api.Config) { c.Auth.RS256PublicKeyPEM = pub; c.Auth.HS256Key = nil })
	want(t, e.get(t, "/loyalty/101", sign(t, a, jwt.SigningMethodHS256, a.HS256Key, nil)), 401)
	want(t, e.get(t, "/loyalty/101", sign(t, a, jwt.SigningMethodRS256, priv, nil)), 200)
}

// TestMintToken checks the development tokens and their refusals.
func TestMintToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig().Auth
	if _, err := api.MintToken(cfg, "1", "admin", time.Hour); err == nil {
		t.Fatal("unknown role accepted")
	}
	if _, err := api.MintToken(cfg, "", "staff", time.Hour); err == nil {
		t.Fatal("empty subject accepted")
	}
	if _, err := api.MintToken(cfg, "1", "staff", 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
	short := cfg
	short.HS256Key = []byte("short")
	if _, err := api.MintToken(short, "1", "staff", time.Hour); err == nil {
		t.Fatal("short key accepted")
	}
	tok, err := api.MintToken(cfg, "17850", "customer", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if _, err := jwt.NewParser().ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return cfg.HS256Key, nil }); err != nil {
		t.Fatal(err)
	}
	if c["sub"] != "17850" || c["role"] != "customer" || c["iss"] != cfg.Issuer {
		t.Fatalf("claims %v", c)
	}
}

// TestRememberedTokenExpires: a token verified (and remembered) once is
// refused after it expires.
func TestRememberedTokenExpires(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t, func(c *api.Config) { c.Auth.Leeway = 0 })
	var ahead atomic.Int64 // how far the server's clock is ahead of the wall clock
	api.SetClock(e.srv, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	tok, err := api.MintToken(e.cfg.Auth, "101", "customer", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want(t, e.get(t, "/loyalty/101", tok), 200)
	want(t, e.get(t, "/loyalty/101", tok), 200)
	ahead.Store(int64(2100 * time.Millisecond))
	want(t, e.get(t, "/loyalty/101", tok), 401)
}
