/**
 * The pure parts of s3-sync --all-versions: reading a ListObjectVersions answer in document order
 * (delete markers stay where they stand among a key's versions, whatever LastModified says), which
 * source versions a destination still lacks, and comparing version lists for verify.
 */
import { describe, expect, it } from 'vitest';
import type { VersionEntry } from '../../worker/jobs/s3-sync/versions-listing.js';
import { parseVersionsPage } from '../../worker/jobs/s3-sync/versions-listing.js';
import { compareVersionLists, copiedFrom, pendingVersions } from '../../worker/jobs/s3-sync/versions-order.js';

const v = (id: string, size = 1, etag = `e${id}`): VersionEntry => ({
  versionId: id,
  deleteMarker: false,
  size,
  etag,
  lastModifiedMs: 0,
});
const dm = (id: string): VersionEntry => ({ versionId: id, deleteMarker: true, size: 0, etag: '', lastModifiedMs: 0 });

describe('ListObjectVersions in document order', () => {
  it('keeps a delete marker between versions of the same second, and the page fields', () => {
    const at = '2026-12-02T10:00:00.000Z';
    const xml = `<?xml version="1.0"?><ListVersionsResult><IsTruncated>true</IsTruncated>
      <NextKeyMarker>b%0D</NextKeyMarker><NextVersionIdMarker>v9</NextVersionIdMarker><EncodingType>url</EncodingType>
      <Version><Key>a</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest><LastModified>${at}</LastModified><ETag>&quot;x3&quot;</ETag><Size>3</Size></Version>
      <DeleteMarker><Key>a</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest><LastModified>${at}</LastModified></DeleteMarker>
      <Version><Key>a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest><LastModified>${at}</LastModified><ETag>"x1"</ETag><Size>1</Size></Version>
      <CommonPrefixes><Prefix>docs/</Prefix></CommonPrefixes></ListVersionsResult>`;
    const page = parseVersionsPage(xml);
    expect(page.entries.map((e) => [e.key, e.versionId, e.deleteMarker, e.size, e.etag])).toEqual([
      ['a', 'v3', false, 3, 'x3'],
      ['a', 'v2', true, 0, ''],
      ['a', 'v1', false, 1, 'x1'],
    ]);
    expect(page).toMatchObject({
      isTruncated: true,
      nextKeyMarker: 'b%0D',
      nextVersionIdMarker: 'v9',
      encodingType: 'url',
      commonPrefixes: ['docs/'],
    });
  });
});

describe('pendingVersions', () => {
  const src = [v('1'), dm('2'), v('3'), dm('4')];
  it('an empty destination gets everything, in order', () => {
    expect(pendingVersions(src, [], undefined)).toEqual(src);
  });
  it('after the anchor: only newer versions; delete markers already mirrored are not mirrored again', () => {
    const dst = [v('a'), dm('b')]; // copied 1, mirrored 2, then stopped
    expect(pendingVersions(src, dst, { dstIndex: 0, srcVersionId: '1' }).map((x) => x.versionId)).toEqual(['3', '4']);
    const all = [v('a'), dm('b'), v('c'), dm('d')];
    expect(pendingVersions(src, all, { dstIndex: 2, srcVersionId: '3' })).toEqual([]);
  });
  it('a leading delete marker mirrored before any copy counts without an anchor', () => {
    expect(pendingVersions([dm('1'), v('2')], [dm('x')], undefined).map((x) => x.versionId)).toEqual(['2']);
  });
  it('an anchor whose source version is gone: the whole list (treated as foreign)', () => {
    const markerFirst = [dm('1'), v('2')];
    expect(pendingVersions(markerFirst, [v('a'), dm('b')], { dstIndex: 0, srcVersionId: 'gone' })).toEqual(markerFirst);
  });
});

describe('compareVersionLists', () => {
  const none = () => false;
  const recorded = (id: string) => (_i: number, s: VersionEntry) => copiedFrom({ 'convoy-source-version-id': id }, s);
  it('same count, order, markers and content: ok', () => {
    expect(compareVersionLists([v('1'), dm('2')], [v('x', 1, 'e1'), dm('y')], none)).toEqual({ verdict: 'ok' });
  });
  it('a missing version, a marker out of place, different bytes: versions_differ at the first position', () => {
    expect(compareVersionLists([v('1'), v('2')], [v('x', 1, 'e1')], none)).toEqual({
      verdict: 'versions_differ',
      firstDifference: 1,
    });
    expect(compareVersionLists([v('1'), dm('2')], [dm('y'), v('x', 1, 'e1')], none).firstDifference).toBe(0);
    expect(compareVersionLists([v('1', 1, 'aaa')], [v('x', 1, 'bbb')], recorded('1')).verdict).toBe('versions_differ');
  });
  it('a multipart ETag that differs is accepted only with the recorded source VersionId', () => {
    expect(compareVersionLists([v('1', 9, 'aaa')], [v('x', 9, 'bbb-2')], recorded('1')).verdict).toBe('ok');
    expect(compareVersionLists([v('1', 9, 'aaa')], [v('x', 9, 'bbb-2')], recorded('7')).verdict).toBe(
      'versions_differ',
    );
  });
  it('missing and extra keys', () => {
    expect(compareVersionLists([v('1')], [], none).verdict).toBe('missing');
    expect(compareVersionLists([], [v('1')], none).verdict).toBe('extra');
    expect(compareVersionLists([], [], none).verdict).toBe('ok');
  });
  it('a destination-only key whose newest entry is a delete marker (--delete put it there) is in sync', () => {
    expect(compareVersionLists([], [v('1'), dm('2')], none).verdict).toBe('ok');
    expect(compareVersionLists([], [v('1'), dm('2'), v('3')], none).verdict).toBe('extra');
  });
});

describe('copiedFrom', () => {
  const nullVersion = v('null', 3, 'e-new');
  it('the recorded VersionId, and the recorded ETag where there is one', () => {
    expect(copiedFrom({ 'convoy-source-version-id': 'null', 'convoy-source-etag': 'e-new' }, nullVersion)).toBe(true);
    expect(copiedFrom({ 'convoy-source-version-id': 'null' }, nullVersion)).toBe(true);
    expect(copiedFrom({ 'convoy-source-version-id': '7' }, nullVersion)).toBe(false);
    expect(copiedFrom(undefined, nullVersion)).toBe(false);
  });
  it('a "null" version replaced in place since the copy: the recorded ETag is the old one', () => {
    expect(copiedFrom({ 'convoy-source-version-id': 'null', 'convoy-source-etag': 'e-old' }, nullVersion)).toBe(false);
  });
});
