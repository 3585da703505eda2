package analytics

import "strings"

// hallsWhere is the condition keeping the rows whose column col is one of
// halls: "" for nil (every hall), a false condition for an empty non-nil
// list (no hall). The ids are quoted literals, as the KPI statements (whose
// SQL text keys the KPI cache) need them.
func hallsWhere(col string, halls []string) string {
	if halls == nil {
		return ""
	}
	if len(halls) == 0 {
		return "0"
	}
	q := make([]string, len(halls))
	for i, h := range halls {
		q[i] = quoteString(h)
	}
	return col + " IN (" + strings.Join(q, ", ") + ")"
}
