/**
 * A sample consent text for the demo, the tests and config/station.example.yaml.
 * A programme replaces it with the text its legal office issued (config `consent`);
 * the station seals the version, language and SHA-256 of whatever text it shows.
 */
export const SAMPLE_CONSENT = {
  version: 'sample-2026-12',
  text: {
    vi: 'Tôi đồng ý để cán bộ thu nhận ảnh chân dung, vân tay và thông tin trong chip thẻ căn cước của tôi để cấp thẻ căn cước và kích hoạt tài khoản định danh điện tử.\n\n'
      + 'Dữ liệu được mã hóa ngay trên thiết bị này; chỉ cơ quan quản lý cơ sở dữ liệu quốc gia về dân cư mở được. Tôi có quyền không đồng ý: khi đó không có dữ liệu sinh trắc học nào được thu nhận.',
    en: 'I agree that the officer takes my portrait, my fingerprints and the data in my ID card\'s chip to issue my ID card and to activate my electronic identification account.\n\n'
      + 'The data is encrypted on this device at once; only the national population database authority can open it. I may refuse: then no biometric data is taken.',
  },
} as const;
