#include "service/auth/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "service/common/file_text.h"

namespace idem::auth {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
using PrivateKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

absl::Status Unusable(absl::string_view setting, const std::string& path,
                      absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(setting, ": ", path, " ", why));
}

absl::StatusOr<std::string> ReadSetting(absl::string_view setting,
                                        const std::string& path) {
  std::optional<std::string> content = ReadRegularFile(path);
  if (!content.has_value()) {
    return Unusable(setting, path, "cannot be read as a file");
  }
  return *std::move(content);
}

Bio MemoryOf(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
             &BIO_free);
}

// The first certificate of a PEM file, null when there is none.
Certificate FirstCertificate(const std::string& pem) {
  Bio in = MemoryOf(pem);
  return Certificate(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr),
                     &X509_free);
}

// Declines a passphrase, where OpenSSL's default would ask the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::StatusOr<TlsFileContents> ReadAndCheck(const TlsFilePaths& paths) {
  TlsFileContents read;
  absl::StatusOr<std::string> cert_pem =
      ReadSetting("IDEM_TLS_CERT", paths.cert);
  if (!cert_pem.ok()) return cert_pem.status();
  read.cert = *std::move(cert_pem);
  Certificate cert = FirstCertificate(read.cert);
  if (cert == nullptr) {
    return Unusable("IDEM_TLS_CERT", paths.cert, "holds no PEM certificate");
  }
  absl::StatusOr<std::string> key_pem = ReadSetting("IDEM_TLS_KEY", paths.key);
  if (!key_pem.ok()) return key_pem.status();
  read.key = *std::move(key_pem);
  Bio key_in = MemoryOf(read.key);
  PrivateKey key(
      PEM_read_bio_PrivateKey(key_in.get(), nullptr, &NoPassphrase, nullptr),
      &EVP_PKEY_free);
  if (key == nullptr) {
    return Unusable("IDEM_TLS_KEY", paths.key,
                    "holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Unusable("IDEM_TLS_KEY", paths.key,
                    absl::StrCat("is not the key of the certificate in ",
                                 paths.cert, " (IDEM_TLS_CERT)"));
  }
  if (paths.client_ca.empty()) return read;
  absl::StatusOr<std::string> ca_pem =
      ReadSetting("IDEM_TLS_CLIENT_CA", paths.client_ca);
  if (!ca_pem.ok()) return ca_pem.status();
  read.client_ca = *std::move(ca_pem);
  if (FirstCertificate(read.client_ca) == nullptr) {
    return Unusable("IDEM_TLS_CLIENT_CA", paths.client_ca,
                    "holds no PEM certificate");
  }
  return read;
}

}  // namespace

absl::StatusOr<TlsFileContents> ReadTlsFiles(const TlsFilePaths& paths) {
  absl::StatusOr<TlsFileContents> read = ReadAndCheck(paths);
  // What OpenSSL queued while parsing is not for whoever asks it next.
  ERR_clear_error();
  return read;
}

}  // namespace idem::auth
