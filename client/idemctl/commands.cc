#include "commands.h"

#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "idem/client.h"
#include "json_output.h"
#include "json_requests.h"
#include "json_values.h"

namespace idemctl {
namespace {

constexpr int kUsageError =
    static_cast<int>(absl::StatusCode::kInvalidArgument);

constexpr char kExamples[] = R"(
Rows, keys and values are JSON: {"id": 1, "name": "Ada", "note": null}.
@FILE reads JSON from a file, - from standard input. {"$base64": "..."} is
bytes; other objects and arrays are sent as JSON text (for json columns).

Examples (server from scripts/run, plaintext on localhost:50051):
  idemctl insert --table accounts --rows '[{"id": 1, "balance": 0}]'
  idemctl update --table accounts --where '{"id": 1}' --set '{"balance": 5}'
  idemctl update --table accounts --where '{"id": 1}' \
      --increment '{"balance": 10}' --key payment-8731
  idemctl copy --from inbox/a.csv --to archive/a.csv --new-key
  idemctl keyed --key order-42 --request '{"insert": {"table": "orders",
      "rows": [{"columns": {"id": {"int_value": "42"}}}]}}'
  idemctl tx --key order-42 --steps '[
      {"insert": {"table": "orders", "rows": [{"id": 42, "sku": "A-1"}]}},
      {"update": {"table": "stock", "where": {"sku": "A-1"},
                  "increment": {"count": -1}}, "require_applied": true}]'
  idemctl keys get order-42
  idemctl keys forget order-42

Prints {"response": ..., "attempts": N, "replayed": ...} or {"error":
{"code": ..., "message": ..., "reason": ..., "metadata": {...}}}.
Exit status: the gRPC status code (0 OK, 3 INVALID_ARGUMENT (also bad
command lines), 5 NOT_FOUND, 7 PERMISSION_DENIED, 9 FAILED_PRECONDITION,
14 UNAVAILABLE, 16 UNAUTHENTICATED, ...).
)";

struct Flags {
  idem::ClientOptions client;
  double timeout_seconds = 30;
  int attempts = 5;
  std::string key;
  bool new_key = false;
  bool compact = false;
};

// An empty --key is refused, not taken as "no key": a script passing a
// message id that turned out empty would otherwise lose exactly-once
// without a word.
std::string NonEmptyKey(const std::string& key) {
  return key.empty() ? "an empty idempotency key; give 1-255 printable ASCII "
                       "characters, or --new-key"
                     : "";
}

// --timeout: a positive, finite number of seconds (CLI11's PositiveNumber
// would name the range of a double in its refusal).
std::string PositiveSeconds(const std::string& text) {
  double seconds = 0;
  if (!absl::SimpleAtod(text, &seconds) || !(seconds > 0) ||
      !std::isfinite(seconds)) {
    return "must be a number of seconds above 0, e.g. 30 or 0.5";
  }
  return "";
}

// --key / --new-key: idemctl sends the call as a KeyedCall when either is
// given, so that re-running the same command with the same key is safe.
void AddKeyOptions(CLI::App& command, Flags& flags) {
  CLI::Option* key = command
                         .add_option("--key", flags.key,
                                     "Idempotency key: the server runs the "
                                     "call at most once per key (1-255 "
                                     "printable ASCII characters)")
                         ->check(NonEmptyKey);
  command
      .add_flag("--new-key", flags.new_key,
                "Send as a KeyedCall with a new random key (printed)")
      ->excludes(key);
}

template <typename Response>
int Print(const absl::StatusOr<Response>& result, const idem::CallInfo& info,
          const Flags& flags) {
  absl::StatusOr<const google::protobuf::Message*> view =
      result.ok() ? absl::StatusOr<const google::protobuf::Message*>(&*result)
                  : result.status();
  std::cout << CallReport(view, info).dump(flags.compact ? -1 : 2) << "\n";
  return static_cast<int>(info.final_status.code());
}

int PrintUsageError(const absl::Status& status) {
  std::cerr << "idemctl: " << status.message() << "\n";
  return kUsageError;
}

// Sends `call` on its own, or as a KeyedCall when a key was asked for.
template <typename Request, typename Response>
int Send(const idem::Client& client, Request call, const Flags& flags,
         absl::StatusOr<Response> (idem::Client::*plain)(
             const Request&, const idem::CallOptions&, idem::CallInfo*) const) {
  idem::CallInfo info;
  if (flags.new_key || !flags.key.empty()) {
    const idem::v1::KeyedCallRequest keyed =
        flags.new_key ? idem::ExactlyOnce(std::move(call))
                      : idem::ExactlyOnce(std::move(call), flags.key);
    return Print(client.KeyedCall(keyed, {}, &info), info, flags);
  }
  return Print((client.*plain)(call, {}, &info), info, flags);
}

using Run = std::function<int(const idem::Client&)>;

// What the options write into, and the chosen subcommand's run: all must
// outlive parsing.
struct Arguments {
  Flags flags;
  Run run;
  std::string table, rows, on_conflict = "do-nothing", version_column;
  std::string where, set, increment;
  std::string from, to;
  std::string request_json, steps, key_name;
};

void AddConnectionOptions(CLI::App& app, Flags& flags) {
  app.add_option("--target", flags.client.target, "Server address host:port")
      ->envname("IDEM_TARGET")
      ->capture_default_str();
  app.add_option("--token", flags.client.bearer_token,
                 "Bearer token sent as 'authorization: Bearer <token>'")
      ->envname("IDEM_TOKEN");
  app.add_flag("--tls", flags.client.tls.enabled, "Connect with TLS");
  app.add_option("--ca-file", flags.client.tls.ca_file,
                 "PEM roots that the server certificate must chain to "
                 "(implies --tls; default: the system's)");
  app.add_option("--cert-file", flags.client.tls.cert_file,
                 "PEM client certificate for mutual TLS (implies --tls)");
  app.add_option("--key-file", flags.client.tls.key_file,
                 "PEM key of --cert-file (implies --tls)");
  app.add_option("--server-name", flags.client.tls.server_name_override,
                 "Name expected in the server certificate (implies --tls)");
  app.add_option("--timeout", flags.timeout_seconds,
                 "Overall deadline of the call in seconds, retries included "
                 "(a retry waits up to it for an unreachable server)")
      ->capture_default_str()
      ->check(PositiveSeconds);
  app.add_option("--attempts", flags.attempts,
                 "Most attempts (1 turns retries off)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_flag("--compact", flags.compact, "Print the JSON on one line");
}

void AddInsert(CLI::App& app, Arguments& a) {
  CLI::App* insert = app.add_subcommand(
      "insert", "Insert rows (ON CONFLICT DO NOTHING, or upsert)");
  insert->add_option("--table", a.table, "Table, name or schema.name")
      ->required();
  insert->add_option("--rows", a.rows, "A JSON object or array of objects")
      ->required();
  insert
      ->add_option("--on-conflict", a.on_conflict,
                   "What an existing primary key gets")
      ->check(CLI::IsMember({"do-nothing", "do-update"}))
      ->capture_default_str();
  insert->add_option("--version-column", a.version_column,
                     "With do-update: replace only when this column grows");
  AddKeyOptions(*insert, a.flags);
  insert->callback([&a] {
    a.run = [&a](const idem::Client& client) {
      absl::StatusOr<nlohmann::json> json = ReadJsonArgument(a.rows);
      if (!json.ok()) return PrintUsageError(json.status());
      absl::StatusOr<idem::v1::InsertRequest> request =
          ToInsertRequest({{"table", a.table},
                           {"rows", *std::move(json)},
                           {"on_conflict", a.on_conflict},
                           {"version_column", a.version_column}});
      if (!request.ok()) return PrintUsageError(request.status());
      return Send(client, *std::move(request), a.flags, &idem::Client::Insert);
    };
  });
}

void AddUpdate(CLI::App& app, Arguments& a) {
  CLI::App* update =
      app.add_subcommand("update", "Update one row by its primary key");
  update->add_option("--table", a.table, "Table, name or schema.name")
      ->required();
  update
      ->add_option("--where", a.where,
                   "JSON object of every primary-key column")
      ->required();
  update->add_option("--set", a.set, "JSON object of new values");
  update->add_option("--increment", a.increment,
                     "JSON object of numeric deltas (col = col + delta)");
  update->add_option("--version-column", a.version_column,
                     "Update only when --set's value of this column grows");
  AddKeyOptions(*update, a.flags);
  update->callback([&a] {
    a.run = [&a](const idem::Client& client) {
      nlohmann::json object = {{"table", a.table},
                               {"version_column", a.version_column}};
      for (const auto& [name, text] :
           {std::pair{"where", &a.where}, std::pair{"set", &a.set},
            std::pair{"increment", &a.increment}}) {
        if (text->empty()) continue;
        absl::StatusOr<nlohmann::json> json = ReadJsonArgument(*text);
        if (!json.ok()) return PrintUsageError(json.status());
        object[name] = *std::move(json);
      }
      absl::StatusOr<idem::v1::UpdateRequest> request = ToUpdateRequest(object);
      if (!request.ok()) return PrintUsageError(request.status());
      return Send(client, *std::move(request), a.flags, &idem::Client::Update);
    };
  });
}

void AddCopy(CLI::App& app, Arguments& a) {
  CLI::App* copy = app.add_subcommand(
      "copy", "Copy a file within the server's storage root");
  copy->add_option("--from", a.from, "Source, relative to the storage root")
      ->required();
  copy->add_option("--to", a.to, "Destination, relative to the storage root")
      ->required();
  AddKeyOptions(*copy, a.flags);
  copy->callback([&a] {
    a.run = [&a](const idem::Client& client) {
      idem::v1::CopyFileRequest request;
      request.set_source_path(a.from);
      request.set_destination_path(a.to);
      return Send(client, std::move(request), a.flags, &idem::Client::CopyFile);
    };
  });
}

void AddKeyed(CLI::App& app, Arguments& a) {
  CLI::App* keyed = app.add_subcommand(
      "keyed", "Send a KeyedCallRequest written in proto JSON");
  keyed
      ->add_option("--request", a.request_json,
                   "KeyedCallRequest as proto JSON (@FILE, - for stdin)")
      ->required();
  AddKeyOptions(*keyed, a.flags);
  keyed->callback([&a] {
    a.run = [&a](const idem::Client& client) {
      absl::StatusOr<nlohmann::json> json = ReadJsonArgument(a.request_json);
      if (!json.ok()) return PrintUsageError(json.status());
      idem::v1::KeyedCallRequest request;
      if (auto status = google::protobuf::util::JsonStringToMessage(
              json->dump(), &request);
          !status.ok()) {
        return PrintUsageError(absl::InvalidArgumentError(
            "--request is not a KeyedCallRequest: " + status.ToString()));
      }
      // --key wins over a key in the JSON; without either the client
      // generates one (and the report shows it).
      if (!a.flags.key.empty()) request.set_idempotency_key(a.flags.key);
      if (a.flags.new_key) request.clear_idempotency_key();
      idem::CallInfo info;
      return Print(client.KeyedCall(request, {}, &info), info, a.flags);
    };
  });
}

void AddTransaction(CLI::App& app, Arguments& a) {
  CLI::App* tx = app.add_subcommand(
      "tx", "Run inserts and updates in one transaction, once per key");
  tx->add_option("--steps", a.steps,
                 "JSON array of steps: {\"insert\": {...}} or {\"update\": "
                 "{...}}, each with \"require_applied\": true to fail the "
                 "whole transaction unless it inserts or updates (fields as "
                 "the insert and update options; @FILE, - for stdin)")
      ->required();
  tx->add_option("--key", a.flags.key,
                 "Idempotency key (default: a new one, printed)")
      ->check(NonEmptyKey);
  tx->callback([&a] {
    a.run = [&a](const idem::Client& client) {
      absl::StatusOr<nlohmann::json> json = ReadJsonArgument(a.steps);
      if (!json.ok()) return PrintUsageError(json.status());
      absl::StatusOr<idem::Transaction> transaction = ToTransaction(*json);
      if (!transaction.ok()) return PrintUsageError(transaction.status());
      idem::CallInfo info;
      return Print(client.Transaction(*transaction, a.flags.key, {}, &info),
                   info, a.flags);
    };
  });
}

void AddKeys(CLI::App& app, Arguments& a) {
  CLI::App* keys =
      app.add_subcommand("keys", "Read or forget an idempotency key");
  keys->require_subcommand(1);
  CLI::App* get = keys->add_subcommand(
      "get",
      "The key's state (ABSENT, IN_FLIGHT, FINISHED, EXPIRED) and "
      "stored answer");
  get->add_option("KEY", a.key_name, "The idempotency key")->required();
  get->callback([&a] {
    a.run = [&a](const idem::Client& client) {
      idem::CallInfo info;
      return Print(client.GetKey(a.key_name, {}, &info), info, a.flags);
    };
  });
  CLI::App* forget = keys->add_subcommand(
      "forget", "Remove a finished key: the next call under it runs again");
  forget->add_option("KEY", a.key_name, "The idempotency key")->required();
  forget->callback([&a] {
    a.run = [&a](const idem::Client& client) {
      idem::CallInfo info;
      return Print(client.ForgetKey(a.key_name, {}, &info), info, a.flags);
    };
  });
}

// The client options the flags ask for.
idem::ClientOptions ClientOptionsOf(const Flags& flags) {
  idem::ClientOptions options = flags.client;
  idem::TlsOptions& tls = options.tls;
  tls.enabled = tls.enabled || !tls.ca_file.empty() || !tls.cert_file.empty() ||
                !tls.key_file.empty() || !tls.server_name_override.empty();
  options.retry.max_attempts = flags.attempts;
  options.retry.total_timeout = absl::Seconds(flags.timeout_seconds);
  options.retry.per_attempt_timeout =
      std::min(options.retry.per_attempt_timeout, options.retry.total_timeout);
  return options;
}

}  // namespace

// What is wrong with a command line CLI11 refused, in one line: the
// command it does not know by name, else CLI11's words.
std::string UsageProblem(CLI::App& app, const CLI::ParseError& error, int argc,
                         char** argv) {
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr &&
      app.get_subcommands().empty()) {
    std::vector<std::string> commands;
    for (const CLI::App* command :
         app.get_subcommands([](CLI::App*) { return true; })) {
      commands.push_back(command->get_name());
    }
    const std::string known = absl::StrJoin(commands, ", ");
    for (int i = 1; i < argc; ++i) {
      if (argv[i][0] != '-' && argv[i][0] != '\0' &&
          (i == 1 || argv[i - 1][0] != '-')) {
        return absl::StrCat("unknown command \"", argv[i], "\"; one of ",
                            known);
      }
    }
    return absl::StrCat("a command is needed: one of ", known);
  }
  return absl::StrCat(error.what(), " (see idemctl --help)");
}

int Main(int argc, char** argv) {
  Arguments arguments;
  CLI::App app(
      "idemctl: call an idem server (Insert, Update, CopyFile, KeyedCall,\n"
      "transactions, GetKey, ForgetKey). Writes travel under a key of their\n"
      "own (--key to give yours), so transient failures are retried without\n"
      "running a write twice; with --attempts 1 they travel without one.",
      "idemctl");
  app.footer(kExamples);
  app.require_subcommand(1);
  AddConnectionOptions(app, arguments.flags);
  for (auto add :
       {AddInsert, AddUpdate, AddCopy, AddKeyed, AddTransaction, AddKeys}) {
    add(app, arguments);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help
    return PrintUsageError(
        absl::InvalidArgumentError(UsageProblem(app, error, argc, argv)));
  }
  absl::StatusOr<idem::Client> client =
      idem::Client::Create(ClientOptionsOf(arguments.flags));
  if (!client.ok()) return PrintUsageError(client.status());
  return arguments.run(*client);
}

}  // namespace idemctl
