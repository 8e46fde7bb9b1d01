// The brand colour as CSS variables, with the text colour on it chosen for contrast: of
// black and white, whichever contrasts more (WCAG 2 relative luminance); one of them always
// reaches 4.5:1, so buttons in any brand colour stay readable.

function channel(hex: string): number {
  const value = Number.parseInt(hex, 16) / 255;
  return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
}

export function relativeLuminance(color: string): number {
  const hex = color.length === 4 ? [...color.slice(1)].map((c) => c + c).join('') : color.slice(1);
  return 0.2126 * channel(hex.slice(0, 2)) + 0.7152 * channel(hex.slice(2, 4)) + 0.0722 * channel(hex.slice(4, 6));
}

export const contrastRatio = (a: number, b: number): number => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

export function textColorOn(color: string): '#000000' | '#ffffff' {
  const luminance = relativeLuminance(color);
  return contrastRatio(luminance, 0) >= contrastRatio(luminance, 1) ? '#000000' : '#ffffff';
}

export function brandStylesheet(primaryColor: string): string {
  return `:root { --brand: ${primaryColor}; --on-brand: ${textColorOn(primaryColor)}; }\n`;
}
