#ifndef IDEM_SERVICE_OBSERVABILITY_LIBRARY_LOGS_H_
#define IDEM_SERVICE_OBSERVABILITY_LIBRARY_LOGS_H_

namespace idem::log {

// Sends what gRPC and protobuf log (a listener that will not bind, a TLS
// handshake or certificate that failed, a protobuf check) through this
// server's log as JSON lines with event "grpc" or "protobuf", instead of
// their own text on stderr, which a pipeline reading one JSON object per
// line would drop. Call before gRPC is used.
void RouteLibraryLogs();

}  // namespace idem::log

#endif  // IDEM_SERVICE_OBSERVABILITY_LIBRARY_LOGS_H_
