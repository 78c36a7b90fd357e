// soak_network.cc: namespaces and veth links of the soak (see soak_network.h), made with
// iproute2's `ip`, the tool an operator would use, rather than netlink by hand.
#include "tests/soak/soak_network.h"

#include <unistd.h>

#include <cstdlib>

namespace tandem::soak {

SoakNetwork::SoakNetwork() {
  int id = static_cast<int>(getpid() % 100000);
  tag_ = "sk" + std::to_string(id);
  net_ = "10.252." + std::to_string(id % 250) + ".";
}

SoakNetwork::~SoakNetwork() {
  if (!created_) return;
  // Deleting a namespace deletes the veth ends inside it, and with them their peers.
  for (int m = 0; m < 2; ++m) {
    std::system(("ip netns del " + Ns(m) + " >/dev/null 2>&1").c_str());
    std::system(("ip link del " + Dev("c", m) + " >/dev/null 2>&1").c_str());
  }
}

std::string SoakNetwork::Ns(int member) const { return tag_ + (member == 0 ? "a" : "b"); }

std::string SoakNetwork::PeerIp(int member) const { return net_ + (member == 0 ? "1" : "2"); }

std::string SoakNetwork::ClientIp(int member) const { return net_ + (member == 0 ? "6" : "10"); }

std::string SoakNetwork::Dev(const char* kind, int member) const {
  return tag_ + kind + std::to_string(member);
}

bool SoakNetwork::Run(const std::string& cmd) {
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) == 0) return true;
  error_ = "command failed: " + cmd;
  return false;
}

bool SoakNetwork::Create() {
  created_ = true;  // from here on the destructor removes whatever exists
  if (!Run("ip netns add " + Ns(0)) || !Run("ip netns add " + Ns(1))) return false;
  // The peer link: p0 in a's namespace, p1 in b's.
  if (!Run("ip link add " + Dev("p", 0) + " netns " + Ns(0) + " type veth peer name " +
           Dev("p", 1) + " netns " + Ns(1))) {
    return false;
  }
  for (int m = 0; m < 2; ++m) {
    std::string ns = Ns(m);
    std::string client_root = net_ + (m == 0 ? "5" : "9");
    if (!Run("ip -n " + ns + " link set lo up") ||
        !Run("ip -n " + ns + " addr add " + PeerIp(m) + "/30 dev " + Dev("p", m)) ||
        !Run("ip -n " + ns + " link set " + Dev("p", m) + " up") ||
        // The client link: c<m> stays here, n<m> goes into the member's namespace.
        !Run("ip link add " + Dev("c", m) + " type veth peer name " + Dev("n", m) + " netns " +
             ns) ||
        !Run("ip addr add " + client_root + "/30 dev " + Dev("c", m)) ||
        !Run("ip link set " + Dev("c", m) + " up") ||
        !Run("ip -n " + ns + " addr add " + ClientIp(m) + "/30 dev " + Dev("n", m)) ||
        !Run("ip -n " + ns + " link set " + Dev("n", m) + " up")) {
      return false;
    }
  }
  return true;
}

bool SoakNetwork::SetPeerLink(bool up) {
  return Run("ip -n " + Ns(0) + " link set " + Dev("p", 0) + (up ? " up" : " down"));
}

bool CanCreateNamespaces() {
  return geteuid() == 0 && std::system("ip netns list >/dev/null 2>&1") == 0;
}

}  // namespace tandem::soak
