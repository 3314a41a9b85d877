package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// DevTokenTTL is how long a token from POST /dev/token is valid.
const DevTokenTTL = 8 * time.Hour

// devTokenRequest is the body of POST /dev/token.
type devTokenRequest struct {
	Role    string `json:"role"`
	Subject string `json:"subject"`
}

// devTokenResponse answers POST /dev/token.
type devTokenResponse struct {
	Token     string    `json:"token"`
	Role      string    `json:"role"`
	Subject   string    `json:"subject"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// devSignInInfo answers GET /dev/token: the page shows its development
// sign-in where this route answers 200.
type devSignInInfo struct {
	Roles []string `json:"roles"`
}

// getDevToken says the development sign-in is there, and for which roles.
func (s *Server) getDevToken(c *gin.Context) {
	c.JSON(http.StatusOK, devSignInInfo{Roles: []string{RoleCustomer, RoleStaff}})
}

// postDevToken mints a customer or staff token for whoever asks: the
// development sign-in of the web page on the embedded store. It is only
// routed when Config.DevSignIn is set.
func (s *Server) postDevToken(c *gin.Context) {
	var req devTokenRequest
	if !s.decodeBody(c, &req) {
		return
	}
	var issues []FieldIssue
	switch req.Role {
	case RoleCustomer:
		if _, ok := parseCustomerID(req.Subject); !ok {
			issues = append(issues, FieldIssue{"subject", "for a customer: the customer id, " + customerIDRule})
		}
	case RoleStaff:
		if CheckSubject(req.Subject, RoleStaff) != nil {
			issues = append(issues, FieldIssue{"subject", "for staff: a name of " + nameRule})
		}
	default:
		issues = append(issues, FieldIssue{"role", `must be "customer" or "staff"`})
	}
	if len(issues) > 0 {
		s.problem(c, problemInvalid, "The request has invalid fields: "+issues[0].Field+" "+issues[0].Reason+".", issues)
		return
	}
	exp := time.Now().Add(DevTokenTTL).UTC().Truncate(time.Second)
	tok, err := MintToken(s.cfg.Auth, req.Subject, req.Role, DevTokenTTL)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, devTokenResponse{Token: tok, Role: req.Role, Subject: req.Subject, ExpiresAt: exp})
}
