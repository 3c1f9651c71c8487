/**
 * s3-sync's lean ListObjectsV2 parse (worker/jobs/s3-sync/object-client.ts): what the SDK read
 * from the same answer, it must read too. The end-to-end checks are test/s3-sync/keys.test.ts
 * (awkward keys, URL-encoded listings) and sync.test.ts (paged listings).
 */
import { describe, expect, it } from 'vitest';
import { parseListPage, unescapeXml } from '../../worker/jobs/s3-sync/object-client.js';

const page = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>dir/</Prefix>
<KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<Contents><Key>dir/a+b%0D.txt</Key><LastModified>2026-12-02T13:05:09.000Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>16384</Size><Owner><ID>o</ID></Owner><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>dir/x&amp;y&lt;z&#13;&#x1F600;</Key><LastModified>2026-12-02T13:05:10.500Z</LastModified><ETag>"abc-2"</ETag><Size>0</Size></Contents>
<CommonPrefixes><Prefix>dir/sub/</Prefix></CommonPrefixes>
<Contents><Key>dir/z</Key><Size>7</Size></Contents>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><StartAfter>dir/</StartAfter></ListBucketResult>`;

describe('parseListPage', () => {
  it('reads entries, prefixes and the page fields, entities decoded, keys left as sent', () => {
    expect(parseListPage(page)).toEqual({
      contents: [
        {
          key: 'dir/a+b%0D.txt',
          size: 16384,
          etag: '0cc175b9c0f1b6a831c399e269772661',
          lastModifiedMs: Date.UTC(2026, 11, 2, 13, 5, 9),
          // what --storage-class keep and the checksum comparisons read (object-properties.ts, checksums.ts)
          checksumAlgorithm: 'CRC32',
          storageClass: 'STANDARD',
        },
        { key: 'dir/x&y<z\r😀', size: 0, etag: 'abc-2', lastModifiedMs: Date.UTC(2026, 11, 2, 13, 5, 10, 500) },
        { key: 'dir/z', size: 7, etag: '', lastModifiedMs: 0 },
      ],
      commonPrefixes: ['dir/sub/'],
      isTruncated: true,
      nextContinuationToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
      encodingType: 'url',
    });
  });

  it('reads the last page of an endpoint that ignores EncodingType, and an empty page', () => {
    const last = parseListPage(
      '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k\r1</Key><Size>1</Size></Contents></ListBucketResult>',
    );
    expect(last).toMatchObject({ isTruncated: false, nextContinuationToken: undefined, encodingType: undefined });
    expect(last.contents.map((c) => c.key)).toEqual(['k\r1']);
    expect(parseListPage('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>').contents).toEqual([]);
  });

  it('refuses a cut-off answer rather than list fewer keys', () => {
    expect(() => parseListPage('<ListBucketResult><Contents><Key>a</Key>')).toThrow(/unterminated/);
    expect(() => parseListPage('<ListBucketResult><Contents><Size>1</Size></Contents>')).toThrow(/without <Key>/);
  });

  it('leaves unknown entities and plain text alone', () => {
    expect(unescapeXml('a&nbsp;b &amp;amp; c')).toBe('a&nbsp;b &amp; c');
    expect(unescapeXml('plain')).toBe('plain');
  });
});
