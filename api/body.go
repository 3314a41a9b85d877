package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// decodeBody reads the JSON body into v: at most MaxBodyBytes, one value,
// no unknown fields. On failure it has answered with a problem and returns
// false.
func (s *Server) decodeBody(c *gin.Context, v any) bool {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			s.problem(c, problemMediaType, "Send the body as application/json.", nil)
			return false
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); !errors.Is(err2, io.EOF) {
			err = errTrailing
		}
	}
	if err == nil {
		return true
	}
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		fieldE  *fieldValueError
	)
	switch {
	case errors.As(err, &tooBig):
		s.problem(c, problemTooLarge, fmt.Sprintf("The body may be at most %d bytes.", s.cfg.MaxBodyBytes), nil)
	case errors.As(err, &fieldE):
		s.problem(c, problemInvalid, "The request has an invalid field: "+fieldE.field+" "+fieldE.reason+".", []FieldIssue{{fieldE.field, fieldE.reason}})
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(body)"
		}
		reason := "must be " + jsonKind(typeErr.Type.Kind().String()) + ", got " + typeErr.Value
		s.problem(c, problemInvalid, "The request has a field of the wrong type: "+field+" "+reason+".", []FieldIssue{{field, reason}})
	case errors.As(err, &syntax):
		s.problem(c, problemBadRequest, fmt.Sprintf("The body is not valid JSON (at byte %d): %v.", syntax.Offset, syntax), nil)
	case errors.Is(err, io.EOF):
		s.problem(c, problemBadRequest, "The body is empty; send a JSON object.", nil)
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.problem(c, problemBadRequest, "The body ends in the middle of the JSON value.", nil)
	case errors.Is(err, errTrailing):
		s.problem(c, problemBadRequest, "The body has data after the JSON object; send exactly one object.", nil)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		s.problem(c, problemBadRequest, "The body has a field this route does not accept: "+name+".", []FieldIssue{{name, "unknown field"}})
	default:
		s.problem(c, problemBadRequest, "The body could not be read as JSON.", nil)
	}
	return false
}

var errTrailing = errors.New("trailing data after the JSON value")

// fieldValueError is a field whose JSON is well formed but whose value is
// unacceptable, found while decoding.
type fieldValueError struct{ field, reason string }

func (e *fieldValueError) Error() string { return e.field + " " + e.reason }

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "of another type"
}
