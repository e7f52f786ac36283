#ifndef IDEM_CLIENT_IDEMCTL_COMMANDS_H_
#define IDEM_CLIENT_IDEMCTL_COMMANDS_H_

namespace idemctl {

// Parses the command line, runs one call and prints its report as JSON.
// Returns the gRPC status code of the call (0 on success); a command line
// that cannot be understood is INVALID_ARGUMENT (3).
int Main(int argc, char** argv);

}  // namespace idemctl

#endif  // IDEM_CLIENT_IDEMCTL_COMMANDS_H_
