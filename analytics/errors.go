package analytics

import "errors"

// ErrClickHouseNotInstalled is returned by ManagedServer.Start when no
// clickhouse-server binary can be found.
var ErrClickHouseNotInstalled = errors.New("analytics: clickhouse-server is not installed: " +
	"install it with `sudo apt-get install clickhouse-server` (or run `make deps`)")

// ErrPortInUse is returned (wrapped) by ManagedServer.Start when the native
// or HTTP port it was told to use is already taken on 127.0.0.1.
var ErrPortInUse = errors.New("analytics: port already in use")

// ErrInvalidEvent is returned (wrapped) by Store.InsertEvents for an event
// that cannot be stored (no id, a time ClickHouse's DateTime cannot hold, a
// rating outside 0..255). Nothing of the batch is written then.
var ErrInvalidEvent = errors.New("analytics: invalid event")

// ErrMigrationLocked is returned (wrapped) by OpenStore when another process
// holds the migration lock for longer than the caller's context allows.
var ErrMigrationLocked = errors.New("analytics: schema migration lock held by another process")

// ErrInvalidStreamHealth is returned (wrapped) by Store.InsertStreamHealth
// for a row whose time ClickHouse's DateTime cannot hold. Nothing of the
// batch is written then.
var ErrInvalidStreamHealth = errors.New("analytics: invalid stream health row")
