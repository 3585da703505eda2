package console

import (
	"encoding/csv"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// wantCSV reports whether the caller asked for CSV: ?format=csv, or an
// Accept header that prefers text/csv.
func wantCSV(c *gin.Context) bool {
	if f := c.Query("format"); f != "" {
		return strings.EqualFold(f, "csv")
	}
	return strings.HasPrefix(c.GetHeader("Accept"), "text/csv")
}

// writeCSV answers with a CSV download: a UTF-8 byte order mark first, so
// that Excel (the usual reader in a government office) shows Chinese
// correctly, then the header row and the rows.
func writeCSV(c *gin.Context, filename string, header []string, rows [][]string) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Status(http.StatusOK)
	_, _ = c.Writer.WriteString("\ufeff")
	w := csv.NewWriter(c.Writer)
	_ = w.Write(header)
	_ = w.WriteAll(rows)
}
