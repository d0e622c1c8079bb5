"""A small gRPC servicer on Python's grpcio, for the greenpatch-grpc tests
and the Dify example.

Service ``greenpatch.demo.Demo`` (messages are written by hand below, so no
protobuf code generation is needed on either side):

    message Req   { string text = 1; uint32 delay_ms = 2; uint32 count = 3; }
    message Reply { string text = 1; uint32 index = 2; }

    rpc Echo(Req)  returns (Reply);          // sleeps delay_ms, echoes text
    rpc Count(Req) returns (stream Reply);   // count replies, delay_ms apart
    rpc Fail(Req)  returns (Reply);          // INVALID_ARGUMENT, text as detail

Usage: ``python3 demo_servicer.py [PORT]`` (0 or none: a free port). It
binds 127.0.0.1 only, prints ``PORT <n>`` on standard output once it
serves, and runs until killed.
"""

import sys
import time
from concurrent import futures

import grpc


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf, i):
    shift = 0
    value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def decode_req(data):
    req = {"text": "", "delay_ms": 0, "count": 0}
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
            if field == 2:
                req["delay_ms"] = value
            elif field == 3:
                req["count"] = value
        elif wire == 2:
            length, i = _read_varint(data, i)
            chunk = bytes(data[i:i + length])
            i += length
            if field == 1:
                req["text"] = chunk.decode("utf-8")
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError("unsupported wire type %d" % wire)
    return req


def encode_reply(reply):
    text = reply["text"].encode("utf-8")
    out = bytearray()
    if text:
        out += _varint((1 << 3) | 2) + _varint(len(text)) + text
    if reply["index"]:
        out += _varint(2 << 3) + _varint(reply["index"])
    return bytes(out)


def echo(req, context):
    time.sleep(req["delay_ms"] / 1000.0)
    return {"text": req["text"], "index": 0}


def count(req, context):
    for i in range(req["count"]):
        if i:
            time.sleep(req["delay_ms"] / 1000.0)
        if not context.is_active():
            return
        yield {"text": "%s %d" % (req["text"], i), "index": i}


def fail(req, context):
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, req["text"])


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(
            echo, request_deserializer=decode_req, response_serializer=encode_reply),
        "Count": grpc.unary_stream_rpc_method_handler(
            count, request_deserializer=decode_req, response_serializer=encode_reply),
        "Fail": grpc.unary_unary_rpc_method_handler(
            fail, request_deserializer=decode_req, response_serializer=encode_reply),
    }
    # Enough workers for hundreds of concurrent calls that each sleep.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=256),
                         maximum_concurrent_rpcs=None)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("greenpatch.demo.Demo", handlers),))
    bound = server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("PORT %d" % bound, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
