//! The consensus engine's codecs: how its messages between validators
//! (gossip, sync) and in its write-ahead log are encoded — the protobuf
//! messages of `wit/proto/schemas/consensus.proto`, one codec for all.
//!
//! Every decode is a boundary: the bytes come from other nodes (or a WAL
//! file another process wrote). Sizes are checked before decoding
//! ([`CONSENSUS_MESSAGE_BYTES_MAX`](wasmvisor_consensus::codec::CONSENSUS_MESSAGE_BYTES_MAX)),
//! keys, block ids and signatures by length, rounds by range, lists by
//! count ([`SIGNATURES_MAX`], [`SYNC_VALUES_MAX`]).

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, PolkaSignature, RoundCertificate,
    RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity,
};
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse};
use wasmvisor_consensus::codec::{
    DecodeError, address, block_from_proto, block_id, block_to_proto, decode, round_from, signature,
    signed_proposal_from_proto, signed_proposal_header_to_proto, signed_proposal_to_proto, signed_vote_from_proto,
    signed_vote_to_proto, value_id_from_proto, value_id_to_proto, vote_type_from_proto, vote_type_to_proto,
};
use wasmvisor_consensus::{Address, Height, ProposalPart, WasmvisorContext};
use wasmvisor_proto::Message;
use wasmvisor_proto::consensus as proto;

/// Most signatures one certificate may carry: one per validator, at most
/// the dispatcher's validator limit.
pub const SIGNATURES_MAX: usize = wasmvisor_limits::SIGNATURES_ITEMS_MAX;
/// Most decided blocks one sync response may carry.
pub const SYNC_VALUES_MAX: usize = wasmvisor_limits::SYNC_VALUES_ITEMS_MAX;
/// Longest stream id accepted.
pub const STREAM_ID_MAX: usize = wasmvisor_limits::STREAM_ID_BYTES_MAX;
/// Longest network peer id accepted in a validator proof (a multihash of
/// an Ed25519 key takes 38 bytes).
pub const PEER_ID_SIZE_MAX: usize = wasmvisor_limits::PEER_ID_BYTES_MAX;

type Ctx = WasmvisorContext;

/// The codec of every engine message (network, sync, write-ahead log).
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineCodec;

fn signed_vote_from(signed: proto::SignedVote) -> Result<SignedMessage<Ctx, wasmvisor_consensus::Vote>, DecodeError> {
    let (vote, signature) = signed_vote_from_proto(signed)?;
    Ok(SignedMessage::new(vote, signature))
}

fn part_to_proto(part: &ProposalPart) -> proto::ProposalPart {
    proto::ProposalPart {
        proposal: Some(signed_proposal_to_proto(&part.proposal, &part.signature)),
    }
}

fn part_from_proto(part: proto::ProposalPart) -> Result<ProposalPart, DecodeError> {
    let (proposal, signature) = signed_proposal_from_proto(
        part.proposal
            .ok_or(DecodeError::Invalid("proposal part: no proposal"))?,
    )?;
    Ok(ProposalPart { proposal, signature })
}

fn count_checked<T>(items: Vec<T>, max: usize, what: &'static str) -> Result<Vec<T>, DecodeError> {
    if items.len() > max {
        return Err(DecodeError::Invalid(what));
    }
    Ok(items)
}

fn certificate_signature(
    address: &Address,
    sig: &malachitebft_signing_ed25519::Signature,
) -> proto::CertificateSignature {
    proto::CertificateSignature {
        validator: address.0.to_vec(),
        signature: sig.to_bytes().to_vec(),
    }
}

/// A certificate's signatures, at most [`SIGNATURES_MAX`]; `what` names
/// the certificate.
fn certificate_signatures(
    signatures: Vec<proto::CertificateSignature>,
    what: &'static str,
) -> Result<Vec<(Address, malachitebft_signing_ed25519::Signature)>, DecodeError> {
    count_checked(signatures, SIGNATURES_MAX, what)?
        .into_iter()
        .map(|signed| Ok((address(&signed.validator)?, signature(&signed.signature)?)))
        .collect()
}

fn polka_to_proto(certificate: &PolkaCertificate<Ctx>) -> proto::PolkaCertificate {
    proto::PolkaCertificate {
        height: certificate.height.0,
        round: certificate.round.as_i64(),
        block_id: certificate.value_id.0.to_vec(),
        signatures: certificate
            .polka_signatures
            .iter()
            .map(|signed| certificate_signature(&signed.address, &signed.signature))
            .collect(),
    }
}

fn polka_from_proto(certificate: proto::PolkaCertificate) -> Result<PolkaCertificate<Ctx>, DecodeError> {
    Ok(PolkaCertificate {
        height: Height(certificate.height),
        round: round_from(certificate.round, "polka round")?,
        value_id: block_id(&certificate.block_id)?,
        polka_signatures: certificate_signatures(certificate.signatures, "polka certificate: too many signatures")?
            .into_iter()
            .map(|(address, signature)| PolkaSignature::new(address, signature))
            .collect(),
    })
}

fn round_certificate_to_proto(certificate: &RoundCertificate<Ctx>) -> proto::RoundCertificate {
    proto::RoundCertificate {
        height: certificate.height.0,
        round: certificate.round.as_i64(),
        kind: match certificate.cert_type {
            RoundCertificateType::Skip => 0,
            RoundCertificateType::Precommit => 1,
        },
        signatures: certificate
            .round_signatures
            .iter()
            .map(|signed| proto::RoundSignature {
                vote_type: vote_type_to_proto(signed.vote_type),
                block_id: value_id_to_proto(&signed.value_id),
                validator: signed.address.0.to_vec(),
                signature: signed.signature.to_bytes().to_vec(),
            })
            .collect(),
    }
}

fn round_certificate_from_proto(certificate: proto::RoundCertificate) -> Result<RoundCertificate<Ctx>, DecodeError> {
    let signatures = count_checked(
        certificate.signatures,
        SIGNATURES_MAX,
        "round certificate: too many signatures",
    )?;
    Ok(RoundCertificate {
        height: Height(certificate.height),
        round: round_from(certificate.round, "round certificate round")?,
        cert_type: match certificate.kind {
            0 => RoundCertificateType::Skip,
            1 => RoundCertificateType::Precommit,
            _ => return Err(DecodeError::Invalid("round certificate kind")),
        },
        round_signatures: signatures
            .into_iter()
            .map(|signed| {
                Ok(RoundSignature::new(
                    vote_type_from_proto(signed.vote_type)?,
                    value_id_from_proto(&signed.block_id)?,
                    address(&signed.validator)?,
                    signature(&signed.signature)?,
                ))
            })
            .collect::<Result<_, DecodeError>>()?,
    })
}

/// A commit certificate's wire form (vote extensions are not carried:
/// wasmvisor's validators never extend their votes).
fn commit_certificate_to_proto(certificate: &ExtendedCommitCertificate<Ctx>) -> proto::CommitCertificate {
    proto::CommitCertificate {
        height: certificate.height.0,
        round: certificate.round.as_i64(),
        block_id: certificate.value_id.0.to_vec(),
        signatures: certificate
            .commit_signatures
            .iter()
            .map(|signed| certificate_signature(&signed.address, &signed.signature))
            .collect(),
    }
}

fn commit_certificate_from_proto(
    certificate: proto::CommitCertificate,
) -> Result<ExtendedCommitCertificate<Ctx>, DecodeError> {
    Ok(ExtendedCommitCertificate {
        height: Height(certificate.height),
        round: round_from(certificate.round, "commit round")?,
        value_id: block_id(&certificate.block_id)?,
        commit_signatures: certificate_signatures(certificate.signatures, "commit certificate: too many signatures")?
            .into_iter()
            .map(|(address, signature)| ExtendedCommitSignature::new(address, signature, None))
            .collect(),
    })
}

fn peer_id(bytes: &[u8]) -> Result<PeerId, DecodeError> {
    PeerId::from_bytes(bytes).map_err(|_| DecodeError::Invalid("peer id"))
}

fn encoded<M: Message>(message: &M) -> Result<Bytes, DecodeError> {
    Ok(Bytes::from(message.encode_to_vec()))
}

impl Codec<ProposalPart> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, DecodeError> {
        part_from_proto(decode(&bytes)?)
    }

    fn encode(&self, part: &ProposalPart) -> Result<Bytes, DecodeError> {
        encoded(&part_to_proto(part))
    }
}

impl Codec<SignedConsensusMsg<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<Ctx>, DecodeError> {
        let message: proto::SignedMessage = decode(&bytes)?;
        match message.message {
            Some(proto::signed_message::Message::Vote(vote)) => Ok(SignedConsensusMsg::Vote(signed_vote_from(vote)?)),
            Some(proto::signed_message::Message::Proposal(proposal)) => {
                let (proposal, signature) = signed_proposal_from_proto(proposal)?;
                Ok(SignedConsensusMsg::Proposal(SignedMessage::new(proposal, signature)))
            }
            None => Err(DecodeError::Invalid("signed message: empty")),
        }
    }

    fn encode(&self, message: &SignedConsensusMsg<Ctx>) -> Result<Bytes, DecodeError> {
        let message = match message {
            SignedConsensusMsg::Vote(signed) => {
                proto::signed_message::Message::Vote(signed_vote_to_proto(&signed.message, &signed.signature))
            }
            // The header only: the block travels in the proposal part.
            SignedConsensusMsg::Proposal(signed) => proto::signed_message::Message::Proposal(
                signed_proposal_header_to_proto(&signed.message, &signed.signature),
            ),
        };
        encoded(&proto::SignedMessage { message: Some(message) })
    }
}

impl Codec<LivenessMsg<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<Ctx>, DecodeError> {
        let message: proto::LivenessMessage = decode(&bytes)?;
        match message.message {
            Some(proto::liveness_message::Message::Vote(vote)) => Ok(LivenessMsg::Vote(signed_vote_from(vote)?)),
            Some(proto::liveness_message::Message::Polka(polka)) => {
                Ok(LivenessMsg::PolkaCertificate(polka_from_proto(polka)?))
            }
            Some(proto::liveness_message::Message::SkipRound(certificate)) => Ok(LivenessMsg::SkipRoundCertificate(
                round_certificate_from_proto(certificate)?,
            )),
            None => Err(DecodeError::Invalid("liveness message: empty")),
        }
    }

    fn encode(&self, message: &LivenessMsg<Ctx>) -> Result<Bytes, DecodeError> {
        let message = match message {
            LivenessMsg::Vote(signed) => {
                proto::liveness_message::Message::Vote(signed_vote_to_proto(&signed.message, &signed.signature))
            }
            LivenessMsg::PolkaCertificate(certificate) => {
                proto::liveness_message::Message::Polka(polka_to_proto(certificate))
            }
            LivenessMsg::SkipRoundCertificate(certificate) => {
                proto::liveness_message::Message::SkipRound(round_certificate_to_proto(certificate))
            }
        };
        encoded(&proto::LivenessMessage { message: Some(message) })
    }
}

impl Codec<StreamMessage<ProposalPart>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, DecodeError> {
        let message: proto::StreamMessage = decode(&bytes)?;
        if message.stream_id.len() > STREAM_ID_MAX {
            return Err(DecodeError::Invalid("stream id: too long"));
        }
        let content = match message.content {
            Some(proto::stream_message::Content::Part(part)) => StreamContent::Data(part_from_proto(part)?),
            Some(proto::stream_message::Content::Fin(true)) => StreamContent::Fin,
            Some(proto::stream_message::Content::Fin(false)) | None => {
                return Err(DecodeError::Invalid("stream message: no content"));
            }
        };
        Ok(StreamMessage::new(
            StreamId::new(Bytes::from(message.stream_id)),
            message.sequence,
            content,
        ))
    }

    fn encode(&self, message: &StreamMessage<ProposalPart>) -> Result<Bytes, DecodeError> {
        encoded(&proto::StreamMessage {
            stream_id: message.stream_id.to_bytes().to_vec(),
            sequence: message.sequence,
            content: Some(match &message.content {
                StreamContent::Data(part) => proto::stream_message::Content::Part(part_to_proto(part)),
                StreamContent::Fin => proto::stream_message::Content::Fin(true),
            }),
        })
    }
}

impl Codec<ValidatorProof<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, DecodeError> {
        let proof: proto::ValidatorProof = decode(&bytes)?;
        if proof.public_key.len() != 32 || proof.peer_id.len() > PEER_ID_SIZE_MAX {
            return Err(DecodeError::Invalid("validator proof"));
        }
        Ok(ValidatorProof::new(
            proof.public_key,
            proof.peer_id,
            signature(&proof.signature)?,
        ))
    }

    fn encode(&self, proof: &ValidatorProof<Ctx>) -> Result<Bytes, DecodeError> {
        encoded(&proto::ValidatorProof {
            public_key: proof.public_key.clone(),
            peer_id: proof.peer_id.clone(),
            signature: proof.signature.to_bytes().to_vec(),
        })
    }
}

impl Codec<ProposedValue<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<Ctx>, DecodeError> {
        let value: proto::ProposedValue = decode(&bytes)?;
        Ok(ProposedValue {
            height: Height(value.height),
            round: round_from(value.round, "proposed value round")?,
            valid_round: round_from(value.valid_round, "proposed value valid round")?,
            proposer: address(&value.proposer)?,
            value: block_from_proto(value.block.ok_or(DecodeError::Invalid("proposed value: no block"))?)?,
            validity: if value.valid {
                Validity::Valid
            } else {
                Validity::Invalid
            },
        })
    }

    fn encode(&self, value: &ProposedValue<Ctx>) -> Result<Bytes, DecodeError> {
        encoded(&proto::ProposedValue {
            height: value.height.0,
            round: value.round.as_i64(),
            valid_round: value.valid_round.as_i64(),
            proposer: value.proposer.0.to_vec(),
            block: Some(block_to_proto(&value.value)),
            valid: value.validity == Validity::Valid,
        })
    }
}

impl Codec<PolkaCertificate<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<Ctx>, DecodeError> {
        polka_from_proto(decode(&bytes)?)
    }

    fn encode(&self, certificate: &PolkaCertificate<Ctx>) -> Result<Bytes, DecodeError> {
        encoded(&polka_to_proto(certificate))
    }
}

impl Codec<Status<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<Status<Ctx>, DecodeError> {
        let status: proto::SyncStatus = decode(&bytes)?;
        Ok(Status {
            peer_id: peer_id(&status.peer_id)?,
            tip_height: Height(status.tip_height),
            history_min_height: Height(status.history_min_height),
        })
    }

    fn encode(&self, status: &Status<Ctx>) -> Result<Bytes, DecodeError> {
        encoded(&proto::SyncStatus {
            peer_id: status.peer_id.to_bytes(),
            tip_height: status.tip_height.0,
            history_min_height: status.history_min_height.0,
        })
    }
}

impl Codec<Request<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<Request<Ctx>, DecodeError> {
        let request: proto::SyncRequest = decode(&bytes)?;
        if request.from > request.to {
            return Err(DecodeError::Invalid("sync request: empty range"));
        }
        Ok(Request::ValueRequest(ValueRequest::new(
            Height(request.from)..=Height(request.to),
        )))
    }

    fn encode(&self, request: &Request<Ctx>) -> Result<Bytes, DecodeError> {
        let Request::ValueRequest(request) = request;
        encoded(&proto::SyncRequest {
            from: request.range.start().0,
            to: request.range.end().0,
        })
    }
}

fn response_to_proto(response: &Response<Ctx>) -> proto::SyncResponse {
    let Response::ValueResponse(response) = response;
    proto::SyncResponse {
        start_height: response.start_height.0,
        values: response
            .values
            .iter()
            .map(|value| proto::DecidedValue {
                block: value.value_bytes.to_vec(),
                certificate: Some(commit_certificate_to_proto(&value.certificate)),
            })
            .collect(),
    }
}

impl Codec<Response<Ctx>> for EngineCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<Response<Ctx>, DecodeError> {
        let response: proto::SyncResponse = decode(&bytes)?;
        let values = count_checked(response.values, SYNC_VALUES_MAX, "sync response: too many blocks")?;
        Ok(Response::ValueResponse(ValueResponse::new(
            Height(response.start_height),
            values
                .into_iter()
                .map(|value| {
                    Ok(RawDecidedValue::new(
                        Bytes::from(value.block),
                        commit_certificate_from_proto(
                            value
                                .certificate
                                .ok_or(DecodeError::Invalid("decided block: no certificate"))?,
                        )?,
                    ))
                })
                .collect::<Result<_, DecodeError>>()?,
        )))
    }

    fn encode(&self, response: &Response<Ctx>) -> Result<Bytes, DecodeError> {
        encoded(&response_to_proto(response))
    }
}

impl HasEncodedLen<Response<Ctx>> for EngineCodec {
    fn encoded_len(&self, response: &Response<Ctx>) -> Result<usize, DecodeError> {
        Ok(response_to_proto(response).encoded_len())
    }
}
