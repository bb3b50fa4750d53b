import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference

from elava.kafka.partitioning import murmur2, partition_of


def test_murmur2_is_kafkas_on_keys_of_every_length_and_byte():
    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(length)) for length in range(0, 300) for _ in range(10)]
    keys += [b"arn:aws:ec2:eu-west-1:111122223333:instance/i-0123456789abcdef0", "Zürich".encode(), b"\xff" * 9]
    assert [murmur2(key) for key in keys] == [reference(key) for key in keys]


def test_partition_is_the_default_partitioners():
    rng = random.Random(11)
    for count in (1, 3, 8, 12, 64):
        partitions = list(range(count))
        for _ in range(200):
            key = rng.randbytes(rng.randrange(1, 80))
            assert partition_of(key, partitions) == DefaultPartitioner()(key, partitions, partitions)
