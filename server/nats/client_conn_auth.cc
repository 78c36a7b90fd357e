// client_conn_auth.cc: the authentication and permission steps of a client connection (see
// client_conn.h and auth.h): the auth deadline and nonce at accept, the CONNECT credential check,
// refusing ops before an accepted CONNECT, and the publish, subscribe and delivery checks of a
// user with permissions. Every text sent is nats-server's.
#include <spdlog/spdlog.h>

#include "server/bus/subject.h"
#include "server/nats/client_conn.h"

namespace tandem::server {

namespace {

// Go's %q for the subjects and queues of the permission errors: they are printable ASCII
// without quotes or backslashes once the parser accepted them, so this is plain quoting.
std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool HasWildcard(std::string_view subject) {
  return subject.find_first_of("*>") != std::string_view::npos && !IsValidLiteralSubject(subject);
}

}  // namespace

void ClientConn::StartAuth(uint64_t now_ms) {
  Authenticator& auth = host_->auth();
  if (!auth.required()) return;
  authed_ = false;
  auth_deadline_ms_ = now_ms + auth.timeout_ms();
  if (auth.nonce_required()) nonce_ = Authenticator::MakeNonce();
}

bool ClientConn::Authenticate(const ConnectCredentials& creds) {
  Authenticator& auth = host_->auth();
  // verify_and_map: the certificate names the user (auth.h).
  const bool mapped = host_->options().tls.verify_and_map && auth.has_users() && creds.nkey.empty();
  std::optional<AuthResult> r = auth.Check(creds, nonce_, mapped ? &tls_identities_ : nullptr);
  if (!r) {
    // Like nats-server, the log names the user it tried, never the secret.
    if (mapped) {
      spdlog::warn("client {}: authentication error - no user for the certificate's identities",
                   Describe());
    } else {
      const std::string& who = !creds.nkey.empty() ? creds.nkey : creds.user;
      spdlog::warn("client {}: authentication error{}{}", Describe(), who.empty() ? "" : " - ",
                   who);
    }
    Close(CloseReason::kAuthViolation, "Authorization Violation");
    return false;
  }
  if (mapped && !creds.user.empty()) {
    spdlog::warn("client {}: User \"{}\" found in connect proto, but user required from cert",
                 Describe(), creds.user);
  }
  authed_ = true;
  user_ = std::move(r->user);
  perms_ = std::move(r->permissions);
  grants_.reset();
  if (perms_ != nullptr && perms_->responses()) grants_ = std::make_unique<ResponseGrants>();
  return true;
}

bool ClientConn::RequireAuth() {
  if (authed_) return true;
  spdlog::warn("client {}: an op before CONNECT on a server that requires authentication",
               Describe());
  Close(CloseReason::kAuthViolation, "Authorization Violation");
  return false;
}

bool ClientConn::AuthTimedOut(uint64_t now_ms) {
  if (authed_ || now_ms < auth_deadline_ms_) return false;
  spdlog::info("client {}: no CONNECT within the authentication timeout", Describe());
  Close(CloseReason::kAuthTimeout, "Authentication Timeout");
  return true;
}

bool ClientConn::PublishAllowed(std::string_view subject) {
  if (perms_ == nullptr || perms_->CanPublish(subject)) return true;
  if (grants_ != nullptr && grants_->Use(subject, uv_now(handle_.loop), *perms_->responses())) {
    return true;
  }
  SendErr("Permissions Violation for Publish to " + Quoted(subject));
  spdlog::warn("client {}: publish violation - subject {}", Describe(), Quoted(subject));
  return false;
}

bool ClientConn::SubscribeAllowed(std::string_view subject, std::string_view queue) {
  if (perms_ == nullptr || perms_->CanSubscribe(subject)) return true;
  std::string err = "Permissions Violation for Subscription to " + Quoted(subject);
  if (!queue.empty()) err += " using queue " + Quoted(queue);
  SendErr(err);
  spdlog::warn("client {}: subscription violation - subject {}", Describe(), Quoted(subject));
  return false;
}

bool ClientConn::DeliveryAllowed(const Subscription& sub, const InboundMsg& msg) {
  if (perms_->has_subscribe_deny() && (!sub.queue.empty() || HasWildcard(sub.subject)) &&
      perms_->DeliveryDenied(msg.subject)) {
    return false;
  }
  if (grants_ != nullptr && !msg.reply.empty() && !perms_->CanPublish(msg.reply)) {
    grants_->Grant(msg.reply, uv_now(handle_.loop), *perms_->responses());
  }
  return true;
}

}  // namespace tandem::server
