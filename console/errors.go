package console

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// statusOf maps an error's kind to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, apperr.Invalid):
		return http.StatusBadRequest
	case errors.Is(err, apperr.Unauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, apperr.Forbidden):
		return http.StatusForbidden
	case errors.Is(err, apperr.NotFound):
		return http.StatusNotFound
	case errors.Is(err, apperr.Conflict):
		return http.StatusConflict
	case errors.Is(err, apperr.TooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, apperr.TooMany):
		return http.StatusTooManyRequests
	case errors.Is(err, apperr.Unavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError is the one place errors become HTTP responses. The text of an
// error with a kind is for the client; anything else is logged and answered
// with a bare "internal error" so internals never leak.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		log.Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "err", err)
		err = apperr.Internal.New(nil, "internal error")
	} else if status == http.StatusServiceUnavailable {
		log.Warn("request failed: dependency unavailable", "path", c.FullPath(), "err", err)
	}
	c.AbortWithStatusJSON(status, errorBody(err))
}

// errorBody is an error as the API answers it: {"error": text} and, for a
// coded error, "code" and "params", which the console translates (API
// clients may match on the code rather than the text).
func errorBody(err error) gin.H {
	body := gin.H{"error": ourWords(err.Error())}
	if e, ok := apperr.CodeOf(err); ok {
		body["code"] = e.Code.Name()
		if len(e.Params) > 0 {
			body["params"] = e.Params
		}
	}
	return body
}

// internalPrefix is how Sunlight's packages begin the errors they wrap
// ("analytics: case CM-1: ..."): words for the log, not for the client.
var internalPrefix = regexp.MustCompile(`^(?:(?:analytics|streaming|webrtc|caseclip|ingest|console|spool|config): )+`)

// ourWords drops a package prefix from an error's text, should one reach
// the HTTP edge wrapped around an error of a kind.
func ourWords(text string) string {
	return internalPrefix.ReplaceAllString(text, "")
}
