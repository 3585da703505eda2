package analytics_test

import (
	"testing"

	"github.com/sunlight-gov/sunlight/analytics/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }
