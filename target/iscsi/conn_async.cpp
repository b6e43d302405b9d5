// Asynchronous Message (RFC 3720 §10.9): the target's own PDU, carrying a SCSI event to an
// initiator in full feature phase.
#include "target/bytes.hpp"
#include "target/iscsi/connection.hpp"

namespace iscsilab::iscsi {

void Connection::report_event(std::uint32_t lun, const Bytes& sense) {
    if (state_ != ConnState::FullFeature) return;  // logging out: the unit attention is lost with the nexus
    // RFC 3720 §10.9.4: the data segment holds SenseLength and the sense data, as in a
    // SCSI Response; AsyncEvent 0 names the LUN, and the message takes a StatSN (§10.9.5).
    Bytes data(2 + sense.size());
    st16(data, 0, static_cast<std::uint16_t>(sense.size()));
    std::copy(sense.begin(), sense.end(), data.begin() + 2);
    AsyncMessagePdu m;
    m.lun = scsi::encode_lun(lun);
    m.event = AsyncEvent::ScsiAsyncEvent;
    m.sn = status_sn();
    const auto dsl = static_cast<std::uint32_t>(data.size());
    send(m.encode(dsl), Slice::own(std::move(data)));
}

}  // namespace iscsilab::iscsi
