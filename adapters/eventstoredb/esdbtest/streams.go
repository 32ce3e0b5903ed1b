package esdbtest

import api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"

// streamsService is the gRPC "streams" service of the node: the append
// (append.go), read (read.go) and subscription (subscribe.go) RPCs over
// the log, each passing through the armed faults.
type streamsService struct {
	api.UnimplementedStreamsServer

	log    *storage
	faults *Faults
}
