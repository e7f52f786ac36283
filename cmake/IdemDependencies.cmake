# Every dependency is a Debian 12 package; scripts/install-deps installs them.
# The client (idem::client, idemctl, the proto) needs the first group only;
# IDEM_BUILD_SERVER=OFF leaves the server's packages out entirely.
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)              # messages (libprotobuf-dev)
find_package(gRPC CONFIG REQUIRED)           # RPC runtime and grpc_cpp_plugin
find_package(absl CONFIG REQUIRED)           # Status, flags, time, sync
find_package(nlohmann_json CONFIG REQUIRED)  # tokens file, idemctl, logs

if(IDEM_BUILD_SERVER)
  find_package(OpenSSL REQUIRED)                # SHA-256 (fingerprints, files)
  find_package(spdlog CONFIG REQUIRED)          # structured log lines
  find_package(prometheus-cpp CONFIG REQUIRED)  # /metrics (pulls civetweb)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)  # PostgreSQL client
  pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)  # connection strings, a transaction's state
  if(IDEM_TCMALLOC)
    pkg_check_modules(TCMALLOC REQUIRED IMPORTED_TARGET libtcmalloc_minimal)  # idem-server's allocator
  endif()
endif()
