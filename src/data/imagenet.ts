/** ImageNet-1k: the class names and the normalisation every model in the zoo was trained with. */
import { readFileSync } from 'node:fs';

export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

let classes: string[] | undefined;

/** The 1000 ImageNet-1k class names, in class-index order (torchvision's list). */
export function imagenetClasses(): string[] {
  classes ??= JSON.parse(readFileSync(new URL('../../data/imagenet-classes.json', import.meta.url), 'utf8')) as string[];
  return classes;
}
