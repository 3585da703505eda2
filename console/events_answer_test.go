package console

import (
	"encoding/json"
	"testing"

	"github.com/gin-gonic/gin"
)

// The hand-written 202 answer is byte for byte what encoding/json (gin's
// c.JSON) made of it before.
func TestEventsAnswerEncoding(t *testing.T) {
	cases := [][]eventResult{
		nil,
		{{Index: 0, EventID: "e-1", Status: "accepted"}},
		{
			{Index: 0, EventID: "sim-1-CM-20261125-00042", Status: "accepted"},
			{Index: 1, Status: "rejected", Error: `ts: "2026-13-01" is not a time`},
			{Index: 2, EventID: "办件-1", Status: "accepted"},
			{Index: 3, EventID: "a<b>&c", Status: "rejected", Error: "hall \"x\\y\"\n is \u2028 unknown \x01"},
			{Index: 17, EventID: "(A)[B]#@+:.", Status: "accepted"},
		},
	}
	for _, results := range cases {
		accepted, rejected := 0, 0
		for _, r := range results {
			if r.Status == "accepted" {
				accepted++
			} else {
				rejected++
			}
		}
		want, err := json.Marshal(gin.H{"accepted": accepted, "rejected": rejected, "results": results})
		if err != nil {
			t.Fatal(err)
		}
		if results == nil {
			// A nil slice is null to encoding/json; the handler never has
			// one (a batch has at least one event), and [] is what it means.
			want = []byte(`{"accepted":0,"rejected":0,"results":[]}`)
		}
		if got := appendEventsAnswer(nil, accepted, rejected, results); string(got) != string(want) {
			t.Errorf("answer:\n got %s\nwant %s", got, want)
		}
	}
}
