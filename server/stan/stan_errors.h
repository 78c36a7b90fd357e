// stan_errors.h: the exact error strings of the streaming protocol, byte for byte those of
// nats-streaming-server. Clients hand them to applications and their test
// suites compare some verbatim: never reword them. When each is sent: server/stan/PROTOCOL.md.
#pragma once

namespace tandem::server::errors {

inline constexpr char kInvalidConnReq[] = "stan: invalid connection request";
inline constexpr char kInvalidClientId[] =
    "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed";
inline constexpr char kClientIdRegistered[] = "stan: clientID already registered";
inline constexpr char kInvalidPubReq[] = "stan: invalid publish request";
inline constexpr char kInvalidSubReq[] = "stan: invalid subscription request";
inline constexpr char kMissingClientId[] = "stan: clientID missing";
inline constexpr char kInvalidAckWait[] = "stan: invalid ack wait time, should be >= 1s";
inline constexpr char kInvalidMaxInflight[] = "stan: invalid MaxInflight, should be >= 1";
inline constexpr char kInvalidStart[] = "stan: invalid start position";
inline constexpr char kInvalidSubject[] = "stan: invalid subject";
inline constexpr char kDuplicateDurable[] = "stan: duplicate durable registration";
inline constexpr char kInvalidDurableName[] =
    "stan: durable name of a durable queue subscriber can't contain the character ':'";
inline constexpr char kUnknownClient[] = "stan: unknown clientID";
inline constexpr char kInvalidUnsubReq[] = "stan: invalid unsubscribe request";
inline constexpr char kUnknownChannel[] = "stan: unknown channel";
inline constexpr char kInvalidSub[] = "stan: invalid subscription";
inline constexpr char kInvalidCloseReq[] = "stan: invalid close request";
inline constexpr char kChannelBeingDeleted[] = "stan: channel is being deleted";
inline constexpr char kTooManyChannels[] = "too many channels";
inline constexpr char kTooManySubs[] = "too many subscriptions per channel";
inline constexpr char kClientReplaced[] = "client has been replaced or is no longer registered";

// tandem's own (the reference server applies these requests from anyone): an unsubscribe,
// subscription close or connection close whose sender does not act for the client
// (server/stan/session_guard.h).
inline constexpr char kNotOwner[] =
    "stan: request refused: not sent by the client's own connection";

// tandem's own (the reference server has no channel permissions): a publish or subscription
// on a channel the user's subject permissions refuse; the channel name follows, quoted
// (server/stan/PROTOCOL.md, "Channel permissions").
inline constexpr char kPubPermPrefix[] = "stan: permissions violation for publish to channel ";
inline constexpr char kSubPermPrefix[] = "stan: permissions violation for subscription to channel ";

}  // namespace tandem::server::errors
