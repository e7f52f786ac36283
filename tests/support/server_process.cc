#include "tests/support/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/test_database.h"

extern char** environ;

namespace idem::testing {
namespace {

std::string ServerBinary() {
  const char* binary = std::getenv("IDEM_SERVER_BINARY");
  if (binary == nullptr) {
    throw std::runtime_error(
        "IDEM_SERVER_BINARY is not set: run through ctest");
  }
  return binary;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// Starts the server binary with the defaults overridden by `env`, output to
// `log_path`. The parent's own IDEM_* variables are not passed on.
pid_t Spawn(const std::map<std::string, std::string>& env,
            const std::vector<std::string>& args, const std::string& log_path) {
  std::map<std::string, std::string> settings = {
      {"IDEM_DATABASE_URL", DatabaseUrl()}, {"IDEM_LISTEN", "127.0.0.1:0"},
      {"IDEM_ALLOW_PLAINTEXT", "true"},     {"IDEM_DRAIN_DELAY", "0s"},
      {"IDEM_SHUTDOWN_GRACE", "5s"},
  };
  for (const auto& [name, value] : env) settings[name] = value;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("IDEM_", 0) != 0) env_strings.push_back(*e);
  }
  for (const auto& [name, value] : settings) {
    env_strings.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::string binary = ServerBinary();
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int error = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(),
                          envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("cannot start " + binary);
  return pid;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string TempLogPath() {
  char path[] = "/tmp/idem-server-log-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  return path;
}

}  // namespace

std::unique_ptr<ServerProcess> ServerProcess::Start(const Options& options) {
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->log_path_ = TempLogPath();
  server->pid_ = Spawn(options.env, options.args, server->log_path_);
  static const std::regex kListening(
      R"re("address":"([^"]+)","event":"listening")re");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    std::string log = server->Log();
    if (std::regex_search(log, match, kListening)) {
      server->address_ = match[1];
      return server;
    }
    if (!server->Running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("idem-server did not start:\n" + server->Log());
}

ServerProcess::~ServerProcess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait();
  }
  std::remove(log_path_.c_str());
}

std::shared_ptr<grpc::Channel> ServerProcess::Channel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

std::unique_ptr<v1::IdemService::Stub> ServerProcess::Stub() const {
  return v1::IdemService::NewStub(Channel());
}

void ServerProcess::Signal(int signal_number) { kill(pid_, signal_number); }

int ServerProcess::Wait() {
  if (exit_status_ >= 0) return exit_status_;
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = DecodeWaitStatus(status);
  return exit_status_;
}

bool ServerProcess::Running() {
  if (exit_status_ >= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = DecodeWaitStatus(status);
    return false;
  }
  return true;
}

std::string ServerProcess::Log() const { return ReadAll(log_path_); }

int RunServerCommand(const std::map<std::string, std::string>& env,
                     const std::vector<std::string>& args, std::string* log,
                     const std::function<void(pid_t)>& spawned) {
  std::string log_path = TempLogPath();
  pid_t pid = Spawn(env, args, log_path);
  if (spawned) spawned(pid);
  // A command meant to end (a refused setting, migrate) that serves
  // instead is killed after a minute: the caller sees 128 + SIGKILL.
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::minutes(1);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > give_up) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (log != nullptr) *log = ReadAll(log_path);
  std::remove(log_path.c_str());
  return DecodeWaitStatus(status);
}

}  // namespace idem::testing
