package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
)

// The roles a token's "role" claim may carry.
const (
	RoleCustomer = "customer" // reads their own dashboard (sub is their customer id)
	RoleChannel  = "channel"  // web, app or store systems: posts orders
	RoleStaff    = "staff"    // customer service: reads any dashboard, inserts points
)

// claims are the token claims the API reads.
type claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// principal is who made a request, from a verified token.
type principal struct {
	Subject string
	Role    string
}

const principalKey = "loyalty.principal"

// authenticator verifies bearer tokens. A token verified once is
// remembered (by its whole text, signature included) until it expires, so a
// customer's repeated dashboard reads skip the signature check and claim
// decoding. Safe for concurrent use.
type authenticator struct {
	keys   verifyKeys
	parser *jwt.Parser
	leeway time.Duration
	seen   *memo[string, verified] // 2^18 slots (2 MB): few of the tokens in use share one
	now    func() time.Time        // the clock: time.Now; tests move it
}

// verified is a remembered token: who it names and until when.
type verified struct {
	p   *principal
	exp time.Time
}

func newAuthenticator(cfg AuthConfig) (*authenticator, error) {
	k, err := cfg.keys()
	if err != nil {
		return nil, err
	}
	var algs []string
	if k.hs != nil {
		algs = append(algs, jwt.SigningMethodHS256.Alg())
	}
	if k.rsa != nil {
		algs = append(algs, jwt.SigningMethodRS256.Alg())
	}
	a := &authenticator{keys: k, leeway: cfg.Leeway, seen: newMemo[string, verified](1 << 18), now: time.Now}
	a.parser = jwt.NewParser(jwt.WithValidMethods(algs), jwt.WithIssuer(cfg.Issuer), jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(cfg.Leeway), jwt.WithTimeFunc(func() time.Time { return a.now() }))
	return a, nil
}

// keyFor returns the key for the token's algorithm: each algorithm has its
// own key, so an RS256 public key can never be used as an HMAC secret.
func (a *authenticator) keyFor(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		if a.keys.hs != nil {
			return a.keys.hs, nil
		}
	case jwt.SigningMethodRS256.Alg():
		if a.keys.rsa != nil {
			return a.keys.rsa, nil
		}
	}
	return nil, fmt.Errorf("algorithm %s not accepted", t.Method.Alg())
}

// verify checks a raw token and returns who it names.
func (a *authenticator) verify(raw string) (*principal, error) {
	if v, ok := a.seen.get(raw); ok && a.now().Before(v.exp) {
		return v.p, nil
	}
	var c claims
	if _, err := a.parser.ParseWithClaims(raw, &c, a.keyFor); err != nil {
		return nil, err
	}
	if c.Subject == "" || len(c.Subject) > 128 {
		return nil, errors.New("token subject missing or too long")
	}
	switch c.Role {
	case RoleCustomer, RoleChannel, RoleStaff:
	default:
		return nil, fmt.Errorf("unknown role %q", c.Role)
	}
	p := &principal{Subject: c.Subject, Role: c.Role}
	if len(raw) <= 4096 {
		a.seen.put(raw, verified{p, c.ExpiresAt.Add(a.leeway)})
	}
	return p, nil
}

// authenticate is the middleware of the protected routes: it answers 401
// to a missing or invalid token, and 403 when the token's role is not one of
// roles.
func (s *Server) authenticate(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		scheme, raw, _ := strings.Cut(h, " ")
		if h == "" || !strings.EqualFold(scheme, "Bearer") || raw == "" {
			c.Header("WWW-Authenticate", `Bearer realm="loyalty"`)
			s.problem(c, problemUnauthorized, "Send a bearer token: Authorization: Bearer <JWT>.", nil)
			return
		}
		p, err := s.auth.verify(strings.TrimSpace(raw))
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="loyalty", error="invalid_token", error_description="the token is invalid or expired"`)
			s.problem(c, problemUnauthorized, "The bearer token is invalid, expired, or not meant for this API; get a new one.", nil)
			return
		}
		for _, r := range roles {
			if p.Role == r {
				c.Set(principalKey, p) // shared with every request of this token: never modified
				c.Next()
				return
			}
		}
		s.problem(c, problemForbidden, fmt.Sprintf("This route needs a token with role %s; this token's role is %s.", orRoles(roles), p.Role), nil)
	}
}

// orRoles lists roles for a message: "staff", "channel or staff".
func orRoles(roles []string) string {
	if len(roles) < 2 {
		return strings.Join(roles, "")
	}
	return strings.Join(roles[:len(roles)-1], ", ") + " or " + roles[len(roles)-1]
}

// forbidden answers a customer token used on another customer's resource.
func (s *Server) forbidden(c *gin.Context) {
	s.problem(c, problemForbidden, "A customer token may read only its own customer's resources (the user id in the path must be the token's subject); role staff may read any customer's.", nil)
}

func principalOf(c *gin.Context) principal {
	p, _ := c.Get(principalKey)
	return *p.(*principal)
}

// MintToken returns an HS256 token for subject with role, valid for ttl,
// signed with cfg.HS256Key and naming cfg.Issuer and cfg.Audience. It is for
// development and tests (the `loyalty token` command); production tokens come
// from the identity provider.
func MintToken(cfg AuthConfig, subject, role string, ttl time.Duration) (string, error) {
	if len(cfg.HS256Key) < 32 {
		return "", errors.New("mint token: HS256Key must be at least 32 bytes")
	}
	switch role {
	case RoleCustomer, RoleChannel, RoleStaff:
	default:
		return "", fmt.Errorf("mint token: role must be %s, %s or %s, got %q", RoleCustomer, RoleChannel, RoleStaff, role)
	}
	if subject == "" || ttl <= 0 {
		return "", errors.New("mint token: subject and a positive ttl are required")
	}
	now := time.Now()
	c := claims{Role: role, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: cfg.Issuer, Subject: subject, Audience: jwt.ClaimStrings{cfg.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(cfg.HS256Key)
}
