// The PDU framer and the connection state machine, fed bytes as a peer would send them.
//
// Input: mode (1 byte), split seed (2 bytes, little-endian), then the byte stream.
// mode bit 0: full feature phase: a valid login first (LoginChoice), then the stream;
//             clear: the stream is the login itself
// mode bit 1: that login turns header and data digests on
// mode bit 2: that login opens a discovery session
// mode bit 3: block store completions come later, from the loop
// mode bit 4: a second passes after every piece of the stream (NOP-In, RspTimeout)
// mode bit 5: the end comes by the target's timers (60 s pass) before the peer closes
// mode bit 6: each piece arrives as TcpStream reads: what the connection's receive_into()
//             offers (the rest of a data segment) is written there, the rest by on_bytes
// The stream reaches the connection in pieces cut where the seed says (Splitter); the
// loop runs until idle after each piece. At the end the peer closes and everything is
// torn down, so that a leak or a use after free shows.
#include "fuzz_support.hpp"

using namespace iscsilab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t mode = in.u8();
    fuzz::Splitter split(in.u16());
    std::span<const std::byte> stream = in.rest();

    fuzz::IscsiRig rig((mode & 0x08) != 0);
    auto s = rig.connect();
    if (mode & 0x01) rig.login(*s, fuzz::LoginChoice{(mode & 0x02) != 0, (mode & 0x04) != 0});
    while (!stream.empty()) {
        const std::size_t n = split.next(stream.size());
        if (mode & 0x40) s->inject_in_reads(stream.first(n), n);
        else s->inject(stream.first(n));
        stream = stream.subspan(n);
        rig.loop.run();
        if (mode & 0x10) rig.loop.advance(std::chrono::seconds(1));
        s->out.clear();  // what the target says is not judged here: the wire checker does that
    }
    if (mode & 0x20) rig.loop.advance(std::chrono::seconds(60));
    rig.finish(*s);
    return 0;
}
