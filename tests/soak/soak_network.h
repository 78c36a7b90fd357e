// soak_network.h: the two "hosts" of the soak: a network namespace per member, the peer link
// between them (a veth pair whose ends live in the two namespaces) and, for each member, a
// client link (a veth pair from the soak's own namespace into the member's). Clients and the
// role monitor reach the members over the client links; the members hear each other over the
// peer link only, so cutting it partitions the pair without cutting any client off.
//
// Addresses, all inside 10.252.<n>.0/24 and only on interfaces made here:
//   peer link    <n>.1 (a)  <n>.2 (b)
//   client link  <n>.5 (soak) - <n>.6 (a),   <n>.9 (soak) - <n>.10 (b)
//
// Ownership: a SoakNetwork owns the namespaces and links it created and removes them in its
// destructor. Thread safety: use from one thread.
#pragma once

#include <string>

namespace tandem::soak {

class SoakNetwork {
 public:
  SoakNetwork();
  ~SoakNetwork();
  SoakNetwork(const SoakNetwork&) = delete;
  SoakNetwork& operator=(const SoakNetwork&) = delete;

  // Creates everything; false with error() naming the command that failed.
  bool Create();
  const std::string& error() const { return error_; }

  // Member 0 is "a", member 1 is "b".
  std::string Ns(int member) const;
  std::string PeerIp(int member) const;
  std::string ClientIp(int member) const;
  // Takes a's end of the peer link down (cut) or up (heal).
  bool SetPeerLink(bool up);

 private:
  bool Run(const std::string& cmd);
  std::string Dev(const char* kind, int member) const;

  std::string tag_;  // unique per soak process, part of every name
  std::string net_;  // "10.252.<n>."
  bool created_ = false;
  std::string error_;
};

// True when this process may create network namespaces (root with iproute2).
bool CanCreateNamespaces();

}  // namespace tandem::soak
