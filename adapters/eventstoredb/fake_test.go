package eventstoredb

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeServer answers the client's gRPC calls with what a test sets, so the
// mapping between the port and the wire is tested without a server. It is
// no EventStoreDB: it checks no expected revision and filters nothing; the
// conformance suite against a real server does that.
type fakeServer struct {
	api.UnimplementedStreamsServer
	mu sync.Mutex
	// appends are the headers of the appends received.
	appends []*api.AppendReq_Options
	// reply answers every append.
	reply *api.AppendResp
	// log is $all, in order; reads of a stream pick its events.
	log []*api.ReadResp_ReadEvent_RecordedEvent
	// reads counts the reads received; subscriptions those that subscribe.
	reads, subscriptions int
	// drops is how many subscriptions end with an error at once.
	drops int
}

// startFake serves f on a loopback port and returns a Store connected to it.
func startFake(tb testing.TB, f *fakeServer) *Store {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer()
	api.RegisterStreamsServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{URL: "esdb://" + ln.Addr().String() + "?tls=false"})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// event returns a stored event as the server sends it.
func event(stream string, number, pos uint64, id uuid.UUID, typ string) *api.ReadResp_ReadEvent_RecordedEvent {
	return &api.ReadResp_ReadEvent_RecordedEvent{
		Id: &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
			LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
		}}},
		StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)},
		StreamRevision:   number,
		CommitPosition:   pos,
		PreparePosition:  pos,
		Metadata: map[string]string{
			"type": typ, "content-type": "application/json",
			// .NET ticks (100 ns) since the Unix epoch.
			"created": strconv.FormatInt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()/100, 10),
		},
		Data:           []byte(`{}`),
		CustomMetadata: []byte(`{"m":1}`),
	}
}

func (f *fakeServer) Append(stream api.Streams_AppendServer) error {
	head, err := stream.Recv()
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.appends = append(f.appends, head.GetOptions())
	reply := f.reply
	f.mu.Unlock()
	return stream.SendAndClose(reply)
}

func (f *fakeServer) Read(req *api.ReadReq, stream api.Streams_ReadServer) error {
	f.mu.Lock()
	f.reads++
	log := append([]*api.ReadResp_ReadEvent_RecordedEvent(nil), f.log...)
	drop := false
	if req.GetOptions().GetSubscription() != nil {
		f.subscriptions++
		drop = f.subscriptions <= f.drops
	}
	f.mu.Unlock()
	o := req.GetOptions()
	if o.GetSubscription() != nil {
		return f.subscribe(stream, o, log, drop)
	}
	count := o.GetCount()
	var out []*api.ReadResp_ReadEvent_RecordedEvent
	if all := o.GetAll(); all != nil {
		var from uint64
		if p := all.GetPosition(); p != nil {
			from = p.CommitPosition
		}
		if all.GetEnd() != nil {
			from = ^uint64(0)
		}
		for _, e := range log {
			if e.CommitPosition >= from {
				out = append(out, e)
			}
		}
	} else {
		name := string(o.GetStream().GetStreamIdentifier().GetStreamName())
		for _, e := range log {
			if string(e.StreamIdentifier.StreamName) == name && (o.GetStream().GetRevisionOption() == nil || e.StreamRevision >= o.GetStream().GetRevision()) {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return stream.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}})
		}
		if o.GetReadDirection() == api.ReadReq_Options_Backwards {
			out = out[len(out)-1:]
		}
	}
	for i, e := range out {
		if uint64(i) >= count {
			break
		}
		if err := stream.Send(&api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
			Event: e, Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.CommitPosition}}}}); err != nil {
			return err
		}
	}
	return nil
}

// subscribe confirms a subscription, then drops it or sends the events of
// log from its position on and waits for the client to leave.
func (f *fakeServer) subscribe(stream api.Streams_ReadServer, o *api.ReadReq_Options, log []*api.ReadResp_ReadEvent_RecordedEvent, drop bool) error {
	if err := stream.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: "fake"}}}); err != nil {
		return err
	}
	if drop {
		return status.Error(codes.Unavailable, "fake: connection lost")
	}
	var from uint64
	if p := o.GetAll().GetPosition(); p != nil {
		from = p.CommitPosition
	}
	for _, e := range log {
		if e.CommitPosition < from {
			continue
		}
		if err := stream.Send(&api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
			Event: e, Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.CommitPosition}}}}); err != nil {
			return err
		}
	}
	<-stream.Context().Done()
	return nil
}
