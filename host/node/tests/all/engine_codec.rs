//! The consensus engine's messages survive their wire form, and malformed
//! or oversized bytes from a peer are refused with the reason.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature, Round,
    RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse};
use wasmvisor_consensus::codec::{DecodeError, encode_block};
use wasmvisor_consensus::{
    Address, Block, BlockId, ConsensusSigner, Height, Proposal, ProposalPart, Vote, WasmvisorContext,
};
use wasmvisor_node::engine::codec::{EngineCodec, SIGNATURES_MAX, SYNC_VALUES_MAX};
use wasmvisor_proto::Message;
use wasmvisor_proto::consensus as proto;

type Ctx = WasmvisorContext;

fn signer() -> ConsensusSigner {
    ConsensusSigner::new([3; 32], [7; 32])
}

fn address() -> Address {
    Address(*signer().public_key().as_bytes())
}

fn signature() -> malachitebft_signing_ed25519::Signature {
    malachitebft_signing_ed25519::Signature::from_bytes([9; 64])
}

fn block() -> Block {
    Block {
        header: vec![1; 40],
        transactions: vec![vec![2; 100], vec![3; 5]],
    }
}

fn vote(vote_type: VoteType, value: NilOrVal<BlockId>) -> Vote {
    Vote {
        height: Height(12),
        round: Round::new(2),
        value,
        vote_type,
        validator: address(),
        extension: None,
    }
}

fn proposal() -> Proposal {
    Proposal {
        height: Height(12),
        round: Round::new(2),
        value: block(),
        pol_round: Round::new(1),
        validator: address(),
    }
}

fn round_trip<T>(value: T)
where
    T: PartialEq + std::fmt::Debug,
    EngineCodec: Codec<T, Error = DecodeError>,
{
    let bytes = EngineCodec.encode(&value).unwrap();
    assert_eq!(EngineCodec.decode(bytes).unwrap(), value);
}

fn refused<T: std::fmt::Debug>(bytes: Vec<u8>) -> String
where
    EngineCodec: Codec<T, Error = DecodeError>,
{
    Codec::<T>::decode(&EngineCodec, Bytes::from(bytes))
        .unwrap_err()
        .to_string()
}

#[test]
fn every_engine_message_survives_its_wire_form() {
    let id = BlockId([5; 32]);
    for (vote_type, value) in [
        (VoteType::Prevote, NilOrVal::Nil),
        (VoteType::Precommit, NilOrVal::Val(id)),
    ] {
        round_trip(SignedConsensusMsg::<Ctx>::Vote(SignedMessage::new(
            vote(vote_type, value),
            signature(),
        )));
        round_trip(LivenessMsg::<Ctx>::Vote(SignedMessage::new(
            vote(vote_type, value),
            signature(),
        )));
    }
    round_trip(SignedConsensusMsg::<Ctx>::Proposal(SignedMessage::new(
        proposal(),
        signature(),
    )));
    let part = signer().sign_proposal_part(proposal());
    round_trip(part.clone());
    // The block crosses the network once: the engine's proposal message
    // carries its header, the part the whole block.
    let message = SignedConsensusMsg::<Ctx>::Proposal(SignedMessage::new(proposal(), signature()));
    let sent = EngineCodec.encode(&message).unwrap();
    let SignedConsensusMsg::Proposal(received) = EngineCodec.decode(sent.clone()).unwrap() else {
        panic!("a proposal decodes as a proposal");
    };
    assert_eq!(received.message.value.header, proposal().value.header);
    assert!(received.message.value.transactions.is_empty());
    let part_bytes = Codec::<ProposalPart>::encode(&EngineCodec, &part).unwrap();
    let transaction_bytes: usize = proposal().value.transactions.iter().map(Vec::len).sum();
    assert!(transaction_bytes > 0 && sent.len() + transaction_bytes <= part_bytes.len());
    assert!(
        Codec::<ProposalPart>::decode(&EngineCodec, part_bytes)
            .unwrap()
            .proposal
            .value
            .same_transactions(&proposal().value)
    );
    round_trip(StreamMessage::new(
        StreamId::new(Bytes::from_static(b"stream")),
        0,
        StreamContent::Data(part),
    ));
    round_trip(StreamMessage::<ProposalPart>::new(
        StreamId::new(Bytes::from_static(b"stream")),
        1,
        StreamContent::Fin,
    ));
    let polka = PolkaCertificate::<Ctx> {
        height: Height(12),
        round: Round::new(2),
        value_id: id,
        polka_signatures: vec![PolkaSignature::new(address(), signature())],
    };
    round_trip(polka.clone());
    round_trip(LivenessMsg::<Ctx>::PolkaCertificate(polka));
    round_trip(LivenessMsg::<Ctx>::SkipRoundCertificate(RoundCertificate {
        height: Height(12),
        round: Round::new(4),
        cert_type: RoundCertificateType::Skip,
        round_signatures: vec![
            RoundSignature::new(VoteType::Prevote, NilOrVal::Nil, address(), signature()),
            RoundSignature::new(VoteType::Precommit, NilOrVal::Val(id), address(), signature()),
        ],
    }));
    round_trip(ValidatorProof::<Ctx>::new(vec![4; 32], vec![1, 2, 3], signature()));
    for validity in [Validity::Valid, Validity::Invalid] {
        round_trip(ProposedValue::<Ctx> {
            height: Height(12),
            round: Round::new(2),
            valid_round: Round::Nil,
            proposer: address(),
            value: block(),
            validity,
        });
    }
    let network_key = malachitebft_app_channel::app::types::Keypair::ed25519_from_bytes([1; 32]).unwrap();
    let peer = PeerId::from_bytes(&network_key.public().to_peer_id().to_bytes()).unwrap();
    round_trip(Status::<Ctx> {
        peer_id: peer,
        tip_height: Height(40),
        history_min_height: Height(1),
    });
    round_trip(Request::<Ctx>::ValueRequest(ValueRequest::new(Height(3)..=Height(9))));
    let response = Response::<Ctx>::ValueResponse(ValueResponse::new(
        Height(3),
        vec![RawDecidedValue::new(
            Bytes::from(encode_block(&block())),
            ExtendedCommitCertificate {
                height: Height(3),
                round: Round::new(0),
                value_id: id,
                commit_signatures: vec![ExtendedCommitSignature::new(address(), signature(), None)],
            },
        )],
    ));
    let length = EngineCodec.encoded_len(&response).unwrap();
    assert_eq!(length, EngineCodec.encode(&response).unwrap().len());
    round_trip(response);
}

#[test]
fn malformed_engine_messages_are_refused_with_the_reason() {
    let signed = |signature: Vec<u8>| proto::SignedVote {
        vote: Some(proto::Vote {
            height: 1,
            round: 0,
            vote_type: 0,
            block_id: Vec::new(),
            validator: vec![1; 32],
        }),
        signature,
    };
    let message = |vote: proto::SignedVote| {
        proto::SignedMessage {
            message: Some(proto::signed_message::Message::Vote(vote)),
        }
        .encode_to_vec()
    };
    assert!(refused::<SignedConsensusMsg<Ctx>>(message(signed(vec![0; 63]))).contains("invalid signature"));
    assert!(
        refused::<SignedConsensusMsg<Ctx>>(proto::SignedMessage { message: None }.encode_to_vec()).contains("empty")
    );
    assert!(refused::<SignedConsensusMsg<Ctx>>(vec![0xff; 9]).contains("malformed"));
    let oversized = vec![0; wasmvisor_limits::CONSENSUS_MESSAGE_BYTES_MAX + 1];
    assert!(refused::<SignedConsensusMsg<Ctx>>(oversized).contains("the maximum is"));

    let stream = |content| proto::StreamMessage {
        stream_id: b"s".to_vec(),
        sequence: 0,
        content,
    };
    assert!(
        refused::<StreamMessage<ProposalPart>>(
            stream(Some(proto::stream_message::Content::Fin(false))).encode_to_vec()
        )
        .contains("no content")
    );
    assert!(refused::<StreamMessage<ProposalPart>>(stream(None).encode_to_vec()).contains("no content"));
    let long_id = proto::StreamMessage {
        stream_id: vec![0; 65],
        ..stream(Some(proto::stream_message::Content::Fin(true)))
    };
    assert!(refused::<StreamMessage<ProposalPart>>(long_id.encode_to_vec()).contains("stream id"));

    let many = |count: usize| proto::PolkaCertificate {
        height: 1,
        round: 0,
        block_id: vec![5; 32],
        signatures: vec![
            proto::CertificateSignature {
                validator: vec![1; 32],
                signature: vec![2; 64],
            };
            count
        ],
    };
    assert!(
        Codec::<PolkaCertificate<Ctx>>::decode(&EngineCodec, Bytes::from(many(SIGNATURES_MAX).encode_to_vec())).is_ok()
    );
    assert!(refused::<PolkaCertificate<Ctx>>(many(SIGNATURES_MAX + 1).encode_to_vec()).contains("too many signatures"));
    let short_id = proto::PolkaCertificate {
        block_id: vec![5; 31],
        ..many(1)
    };
    assert!(refused::<PolkaCertificate<Ctx>>(short_id.encode_to_vec()).contains("block id"));

    assert!(refused::<Request<Ctx>>(proto::SyncRequest { from: 9, to: 3 }.encode_to_vec()).contains("empty range"));
    let response = proto::SyncResponse {
        start_height: 1,
        values: vec![
            proto::DecidedValue {
                block: Vec::new(),
                certificate: None,
            };
            SYNC_VALUES_MAX + 1
        ],
    };
    assert!(refused::<Response<Ctx>>(response.encode_to_vec()).contains("too many blocks"));
    let no_certificate = proto::SyncResponse {
        start_height: 1,
        values: vec![proto::DecidedValue {
            block: Vec::new(),
            certificate: None,
        }],
    };
    assert!(refused::<Response<Ctx>>(no_certificate.encode_to_vec()).contains("no certificate"));
    assert!(
        refused::<Status<Ctx>>(
            proto::SyncStatus {
                peer_id: vec![1, 2, 3],
                tip_height: 1,
                history_min_height: 1
            }
            .encode_to_vec()
        )
        .contains("peer id")
    );
    let bad_round = proto::ProposedValue {
        height: 1,
        round: -2,
        valid_round: -1,
        proposer: vec![1; 32],
        block: Some(proto::Block::default()),
        valid: true,
    };
    assert!(refused::<ProposedValue<Ctx>>(bad_round.encode_to_vec()).contains("proposed value round"));
}
