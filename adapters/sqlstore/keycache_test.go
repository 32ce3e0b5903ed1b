package sqlstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/adapters/sqlite"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/domain"
)

// replica opens one more process's view of the PostgreSQL schema at url:
// its own pool and, if watch, its own revocation listener.
func replica(t *testing.T, url string, watch bool) *sqlstore.Access {
	t.Helper()
	st, err := postgres.Open(context.Background(), postgres.Config{URL: url, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := sqlstore.NewAccess(st.DB(), st.DB())
	if watch {
		if err := a.WatchRevocations(context.Background(), url); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
	}
	return a
}

// newKey creates an appspace and a server key through a and returns the
// key and its secret.
func newKey(t *testing.T, a *sqlstore.Access, name string) (domain.APIKey, string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.CreateAppspace(ctx, name); err != nil {
		t.Fatal(err)
	}
	key, secret, err := a.CreateKey(ctx, name, domain.RoleServer, "k")
	if err != nil {
		t.Fatal(err)
	}
	return key, secret
}

// notifyLatency bounds how long a revocation's notification may take to
// reach another replica's listener on a loaded test machine (a few ms when idle); well below
// the cache's two seconds, so passing needs the notification.
const notifyLatency = 500 * time.Millisecond

// hammer authenticates secret on b from several goroutines until stop is
// closed, and fails the test for a success that started more than
// notifyLatency after the revocation returned (revokedAt, Unix ns; 0
// before).
func hammer(t *testing.T, b *sqlstore.Access, secret string, revokedAt *atomic.Int64, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				at := revokedAt.Load()
				late := at != 0 && time.Since(time.Unix(0, at)) > notifyLatency
				_, err := b.Authenticate(context.Background(), secret)
				if late && err == nil {
					t.Error("replica B accepted a key well after replica A's revocation returned")
					return
				}
				if err != nil && domain.ErrorCode(err) != domain.EUnauthorized {
					t.Error(err)
					return
				}
			}
		}()
	}
	return &wg
}

// refusedWithin polls b until it refuses secret, and fails the test if
// that takes longer than notifyLatency.
func refusedWithin(t *testing.T, b *sqlstore.Access, secret string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := b.Authenticate(context.Background(), secret)
		if domain.ErrorCode(err) == domain.EUnauthorized {
			return time.Since(start)
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > notifyLatency {
			t.Fatalf("replica still accepts a key revoked %s ago", notifyLatency)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestRevocationReachesEveryReplicaAtOnce: two replicas on one PostgreSQL
// schema, both serving keys from memory; a key B is busy authenticating is
// revoked on A, and B refuses it as soon as the notification arrives
// (usually before A's RevokeKey returns, which waits for A's own copy).
func TestRevocationReachesEveryReplicaAtOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	a, b := replica(t, url, true), replica(t, url, true)
	ctx := context.Background()
	for _, name := range []string{"shop", "shop2", "shop3"} {
		key, secret := newKey(t, a, name)
		if _, err := b.Authenticate(ctx, secret); err != nil { // now cached on B
			t.Fatal(err)
		}
		var revokedAt atomic.Int64
		stop := make(chan struct{})
		wg := hammer(t, b, secret, &revokedAt, stop)
		time.Sleep(20 * time.Millisecond)
		if err := a.RevokeKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		revokedAt.Store(time.Now().UnixNano())
		t.Logf("%s: B refused the key %s after A's revocation returned", name, refusedWithin(t, b, secret))
		time.Sleep(notifyLatency + 20*time.Millisecond)
		close(stop)
		wg.Wait()
	}
}

// TestRevocationByAnotherProcessReachesReplicas: the CLI revokes with an
// Access that does not listen; a replica that had the key in memory
// refuses it well before the cache's lifetime could have expired it.
func TestRevocationByAnotherProcessReachesReplicas(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	cli, b := replica(t, url, false), replica(t, url, true)
	ctx := context.Background()
	key, secret := newKey(t, cli, "shop")
	if _, err := b.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := cli.RevokeKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("B refused the key %s after the CLI's revocation returned", refusedWithin(t, b, secret))
	if err := cli.RevokeKey(ctx, "key_missing"); domain.ErrorCode(err) != domain.ENotFound {
		t.Errorf("revoke a missing key: %v, want not_found", err)
	}
}

// sqliteAccess opens one more process's view of the SQLite store in dir:
// its own pools and, if signal, the revocation file serve and the CLI share.
func sqliteAccess(t *testing.T, dir string, signal bool) *sqlstore.Access {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "ledger.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := sqlstore.NewAccess(st.WriteDB(), st.DB())
	if signal {
		a.SignalRevocations(filepath.Join(dir, "ledger.db-revocations"))
	}
	return a
}

// revokeWhileBusy revokes key through revoker while other goroutines keep
// authenticating secret on serve, which must refuse it from the moment the
// revocation returns.
func revokeWhileBusy(t *testing.T, serve, revoker *sqlstore.Access, key domain.APIKey, secret string) {
	t.Helper()
	if _, err := serve.Authenticate(context.Background(), secret); err != nil { // now in serve's memory
		t.Fatal(err)
	}
	var revokedAt atomic.Int64
	stop := make(chan struct{})
	wg := hammer(t, serve, secret, &revokedAt, stop)
	time.Sleep(20 * time.Millisecond)
	if err := revoker.RevokeKey(context.Background(), key.ID); err != nil {
		t.Fatal(err)
	}
	revokedAt.Store(time.Now().UnixNano())
	if _, err := serve.Authenticate(context.Background(), secret); domain.ErrorCode(err) != domain.EUnauthorized {
		t.Fatalf("%s right after revocation: %v, want unauthorized", key.AppspaceID, err)
	}
	time.Sleep(notifyLatency + 20*time.Millisecond)
	close(stop)
	wg.Wait()
}

// TestRevocationInProcessSQLite: SQLite's one serving process refuses a
// key from the moment its own revocation returns, while other goroutines
// keep authenticating it.
func TestRevocationInProcessSQLite(t *testing.T) {
	t.Parallel()
	a := sqliteAccess(t, t.TempDir(), false)
	a.CacheKeys()
	key, secret := newKey(t, a, "shop")
	revokeWhileBusy(t, a, a, key, secret)
	if _, err := a.Authenticate(context.Background(), secret); domain.ErrorCode(err) != domain.EUnauthorized {
		t.Fatalf("after revocation: %v, want unauthorized", err)
	}
}

// TestRevocationByAnotherProcessSQLite: serve and the CLI each have their
// own Access (and connections) on one SQLite file, signalling through the
// revocation file; serve refuses a key it held in memory from the moment
// the CLI's revocation returns, while other goroutines keep authenticating.
func TestRevocationByAnotherProcessSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serve, cli := sqliteAccess(t, dir, true), sqliteAccess(t, dir, true)
	serve.CacheKeys()
	for _, name := range []string{"shop", "shop2"} { // the second finds the file already there
		key, secret := newKey(t, cli, name)
		revokeWhileBusy(t, serve, cli, key, secret)
	}
}
